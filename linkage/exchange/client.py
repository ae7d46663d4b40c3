"""A party's side of the exchange: push envelopes, pull those addressed to it, read status.

Every request is signed with the party's Ed25519 key. Pushes go in chunks and resume
where the exchange's copy ends after a dropped connection; pulls are written to a
temporary name, checked against the project manifest *this party* holds (a dishonest
exchange cannot hand it a file the manifest's parties did not sign), and renamed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from linkage.envelope import EnvelopeHeader, header_path, verify_envelope
from linkage.errors import LinkageError
from linkage.exchange.checks import decode_header, encode_header
from linkage.exchange.routes import file_name
from linkage.exchange.signing import sign_request
from linkage.files import atomic_path, write_atomic
from linkage.keys.party import PartySecret
from linkage.keys.project import ProjectManifest

DEFAULT_CHUNK = 64 << 20
#: Blocks read from an envelope for upload: 8 MiB moved 256 MiB ~1.5x faster than 1 MiB.
_READ = 8 << 20
#: (bytes sent or received so far, total) after every block.
Progress = Callable[[int, int], None]


class ExchangeError(LinkageError):
    """The exchange refused a request or could not be reached; ``status`` is the HTTP code."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None
                 ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Pushed:
    path: Path
    sha256: str
    kind: str
    recipient: str
    created: bool  # False: the exchange already held it


class ExchangeClient:
    """Signed requests to one exchange as one party."""

    def __init__(self, url: str, party: PartySecret, *, chunk_size: int = DEFAULT_CHUNK,
                 retries: int = 5, http: httpx.Client | None = None,
                 timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.party = party
        self.chunk_size = chunk_size
        self.retries = retries
        self._http = http or httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ExchangeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                content: bytes | Iterator[bytes] | None = None, stream: bool = False
                ) -> httpx.Response:
        """Send one signed request (a fresh signature and nonce every time)."""
        url = self.url + path
        headers = dict(headers or {})
        if content is None and method in ("POST", "PUT", "PATCH"):
            # httpx sends this for a bodiless POST; it must be in what is signed.
            headers.setdefault("Content-Length", "0")
        signed = sign_request(method, url, headers, party_id=self.party.id,
                              key=self.party.signer)
        try:
            req = self._http.build_request(method, url, headers=signed, content=content)
            return self._http.send(req, stream=stream, follow_redirects=False)
        except httpx.TransportError as exc:
            raise ExchangeError(f"exchange {self.url} unreachable: {exc}") from None

    def status(self, project: str) -> dict[str, Any]:
        return _json(self.request("GET", f"/v1/projects/{project}"))

    def register_worker(self, role: str) -> int:
        return int(_json(self.request("POST", f"/v1/workers?role={role}"))["worker_id"])

    def heartbeat(self, worker_id: int) -> None:
        _json(self.request("POST", f"/v1/workers/{worker_id}/heartbeat"))

    def unregister_worker(self, worker_id: int) -> None:
        _json(self.request("DELETE", f"/v1/workers/{worker_id}"))

    def claim(self, worker_id: int) -> dict[str, Any] | None:
        """The next job of this party's queue, now running on ``worker_id``; None if idle."""
        return self.wait_for_work(worker_id)[0]

    def wait_for_work(self, worker_id: int, wait: float = 0.0, since: int | None = None
                      ) -> tuple[dict[str, Any] | None, int | None]:
        """Claim the next job, waiting up to ``wait`` seconds at the exchange for one:
        (the job or None, the ``since`` for the next call).

        None comes back as soon as a file for this party arrives (to fetch it ahead of its
        job) or when time is up; ``since`` is what this party's worker saw last, so an
        arrival between two calls ends the next wait at once.
        """
        from urllib.parse import urlencode

        query = urlencode({"wait": wait, **({"since": since} if since is not None else {})})
        response = self.request("POST", f"/v1/workers/{worker_id}/claim?{query}")
        if response.status_code == 204:
            seen = response.headers.get("exchange-changes")
            return None, int(seen) if seen and seen.isdigit() else None
        return _json(response), None

    def inbox(self) -> list[dict[str, Any]]:
        """Every file at the exchange addressed to this party, in every project (each
        row with its ``project``)."""
        return _json(self.request("GET", "/v1/inbox"))["files"]

    def finish(self, job_id: int, worker_id: int, error: str | None = None) -> str:
        from urllib.parse import urlencode

        query = {"worker": worker_id, **({"error": error[:1500]} if error else {})}
        return _json(self.request("POST", f"/v1/jobs/{job_id}/finish?{urlencode(query)}")
                     )["status"]

    def push(self, project: str, path: str | Path, progress: Progress | None = None
             ) -> Pushed:
        """Upload envelope ``path`` (with its ``.sig`` header); resumes after a break."""
        path = Path(path)
        sig = header_path(path)
        if not path.exists() or not sig.exists():
            raise ExchangeError(f"{path}: an envelope travels with its signed header "
                                f"{sig.name}; both must exist")
        raw = sig.read_bytes()
        _, header = decode_header(encode_header(raw))
        if path.stat().st_size != header.ciphertext_size:
            raise ExchangeError(f"{path}: does not match its signed header (altered or "
                                "truncated); seal it again")
        base = f"/v1/projects/{project}"
        field = encode_header(raw)
        for attempt in range(self.retries + 1):
            try:
                state = _json(self.request("GET", f"{base}/uploads/{header.ciphertext_sha256}"))
                if state["published"]:
                    return Pushed(path, header.ciphertext_sha256, header.kind,
                                  header.recipient, created=False)
                return self._send(base, path, header, field, int(state["offset"]), progress)
            except ExchangeError as exc:
                # Refusals are final; a dropped connection or a server restart is retried
                # from wherever the exchange's copy ends.
                if exc.status is not None and exc.status < 500 and exc.status != 409:
                    raise
                if attempt == self.retries:
                    raise
                time.sleep(min(2 ** attempt, 30) * 0.5)
        raise AssertionError("unreachable")

    def _send(self, base: str, path: Path, header: EnvelopeHeader, field: str, offset: int,
              progress: Progress | None) -> Pushed:
        size, digest = header.ciphertext_size, header.ciphertext_sha256
        while True:
            end = min(offset + self.chunk_size, size) - 1
            headers = {"Envelope-Header": field, "Content-Length": str(end - offset + 1),
                       "Content-Type": "application/octet-stream"}
            if offset or end < size - 1:
                headers["Content-Range"] = f"bytes {offset}-{end}/{size}"
            response = self.request("PUT", f"{base}/files/{digest}", headers=headers,
                                    content=_slice(path, offset, end - offset + 1))
            if response.status_code in (201, 303):
                if progress:
                    progress(size, size)
                return Pushed(path, digest, header.kind, header.recipient,
                              created=response.status_code == 201)
            offset = int(_json(response)["offset"])
            if progress:
                progress(offset, size)

    def send_acceptance(self, project_dir: str | Path, manifest: ProjectManifest) -> bool:
        """Send this holder's acceptance and key share of ``manifest``'s key version from
        ``project_dir``; False if the exchange held them already."""
        from linkage.exchange.setup import acceptance_json
        from linkage.keys.acceptance import Acceptance, accept_path, share_path

        version = manifest.key_version
        accepted = accept_path(project_dir, self.party.id, version)
        share = share_path(project_dir, self.party.id, version)
        if not accepted.exists() or not share.exists():
            raise ExchangeError(f"{accepted.name} and {share.name} are not in {project_dir}: "
                                "accept the project first (`pseudolink project accept`)")
        import json

        body = json.dumps(acceptance_json(Acceptance.load(accepted), share.read_bytes()))
        response = self.request(
            "PUT", f"/v1/projects/{manifest.id}/setup/acceptances/{self.party.id}",
            headers={"Content-Type": "application/json",
                     "Content-Length": str(len(body))}, content=body.encode())
        _json(response)
        return response.status_code == 201

    def pull_setup(self, project: str, project_dir: str | Path) -> list[Path]:
        """Fetch the registered manifest and every holder's acceptance and share into
        ``project_dir``; returns the files written.

        A manifest is taken when there is none here yet, or when it is a later key version
        of the same creation; anything else is refused. Each acceptance is checked against
        the manifest before it is written, so a dishonest exchange cannot slip in a share.
        """
        import json

        from linkage.exchange.setup import check_acceptance, parse_acceptance
        from linkage.exchange.state import manifest_from_text
        from linkage.keys.acceptance import accept_path, share_path

        project_dir = Path(project_dir)
        data = _json(self.request("GET", f"/v1/projects/{project}/setup"))
        text = json.dumps(data["manifest"], indent=2, ensure_ascii=False) + "\n"
        offered = manifest_from_text(text)
        if offered.id != project:
            raise ExchangeError(f"the exchange sent project {offered.id}, not {project}")
        here = project_dir / "project.json"
        written = []
        mine = ProjectManifest.load(here) if here.exists() else None
        if mine is not None and (mine.nonce, mine.parties) != (offered.nonce, offered.parties):
            raise ExchangeError(f"{here}: the exchange holds another creation of project "
                                f"{project}; kept the one here")
        if mine is not None and offered.key_version < mine.key_version:
            raise ExchangeError(f"{here}: the exchange holds an older key version of project "
                                f"{project}; kept the one here")
        if mine is None or mine.to_dict() != offered.to_dict():
            write_atomic(here, text.encode("utf-8"))
            written.append(here)
        manifest = ProjectManifest.load(project_dir)
        for item in data["acceptances"]:
            try:
                acceptance, share = parse_acceptance(item)
                check_acceptance(manifest, acceptance, share)
            except (ValueError, LinkageError) as exc:
                raise ExchangeError(f"an acceptance from the exchange refused: {exc}") from None
            version = manifest.key_version
            accepted = accept_path(project_dir, acceptance.holder, version)
            if accepted.exists() and share_path(project_dir, acceptance.holder,
                                                version).exists():
                continue
            write_atomic(share_path(project_dir, acceptance.holder, version), share)
            write_atomic(accepted, (json.dumps(acceptance.to_dict(), indent=2) + "\n"
                                    ).encode("utf-8"))
            written += [accepted, share_path(project_dir, acceptance.holder, version)]
        return written

    def pull(self, project: str, manifest: ProjectManifest, out_dir: str | Path,
             kinds: tuple[str, ...] | None = None, progress: Progress | None = None, *,
             rows: list[dict[str, Any]] | None = None, recheck: bool = False
             ) -> list[Path]:
        """Download every file addressed to this party (of ``kinds``) not yet in
        ``out_dir``; each is verified against ``manifest`` before it takes its name.

        A file already there under its signed header's digest is kept unread: the stage
        that opens it checks its bytes against that digest before decrypting. ``recheck``
        (a retried job) reads each kept file and fetches it again if it no longer matches.
        ``rows``: the exchange's list of files, if the caller has it (else asked for).
        """
        out_dir = Path(out_dir)
        pulled = []
        for row in self.status(project)["files"] if rows is None else rows:
            if row["recipient"] != self.party.id or (kinds and row["kind"] not in kinds):
                continue
            target = out_dir / file_name(row["kind"], row["sender"], row["recipient"])
            if target.exists() and header_path(target).exists() and \
                    _digest_of(header_path(target)) == row["sha256"] and \
                    not (recheck and not _intact(target, manifest)):
                continue
            self._download(project, manifest, row, target, progress)
            pulled.append(target)
        return pulled

    def _download(self, project: str, manifest: ProjectManifest, row: dict[str, Any],
                  target: Path, progress: Progress | None) -> None:
        response = self.request("GET", f"/v1/projects/{project}/files/{row['sha256']}",
                                stream=True)
        try:
            if response.status_code != 200:
                response.read()
                _json(response)
            raw, _ = decode_header(response.headers["envelope-header"])
            with atomic_path(target) as tmp:
                done = 0
                # Hashed as it is written: the check below need not read it back.
                digest = hashlib.sha256()
                with open(tmp, "wb") as out:
                    # As the socket delivers them: re-chunking copied every byte once more.
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, int(row["size"]))
                # Checked under the temporary name, with its header beside it: a file the
                # parties did not sign never takes the name a stage reads.
                header_path(tmp).write_bytes(raw)
                try:
                    verify_envelope(tmp, manifest, sha256=digest.hexdigest())
                except LinkageError as exc:
                    raise ExchangeError(f"file {row['sha256'][:12]} from the exchange refused: "
                                        f"{str(exc).replace(str(tmp), target.name)}") from None
                finally:
                    header_path(tmp).unlink(missing_ok=True)
                write_atomic(header_path(target), raw)
        finally:
            response.close()


def _slice(path: Path, offset: int, count: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        fh.seek(offset)
        while count:
            block = fh.read(min(_READ, count))
            if not block:
                raise ExchangeError(f"{path}: shorter than its signed header says")
            count -= len(block)
            yield block


def _intact(path: Path, manifest: ProjectManifest) -> bool:
    try:
        verify_envelope(path, manifest)
    except LinkageError:
        return False
    return True


def _digest_of(sig: Path) -> str | None:
    try:
        return decode_header(encode_header(sig.read_bytes()))[1].ciphertext_sha256
    except (ValueError, OSError):
        return None


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 204:
        return {}
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400:
        message = body.get("message") if isinstance(body, dict) else None
        code = body.get("error") if isinstance(body, dict) else None
        raise ExchangeError(f"exchange refused ({response.status_code}): "
                            f"{message or response.reason_phrase}", response.status_code, code)
    return body
