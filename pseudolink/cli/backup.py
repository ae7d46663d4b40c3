"""``pseudolink backup`` and ``pseudolink restore``: the whole workspace in one archive.

The archive is one age file (to the operator's recipients) holding a tar of a consistent
copy of the catalog (SQLite online backup, or ``pg_dump``), every file of the workspace
as it is stored (keys stay sealed under their passphrase; the login session file and the
scratch are left out), and ``manifest.json``, the digest of each member, signed with the
workspace's audit signing key (``manifest.sig``). Restore refuses an archive it cannot
decrypt, a manifest whose signature fails (against the key inside, and against an
auditor's copy with ``--public-key``), any member that differs from the manifest, and a
non-empty target; then it checks the restored workspace as ``doctor`` does.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from pseudolink.cli.app import WorkdirOption, app, console, err_console, fail, passphrase, ws
from pseudolink.cli.artifacts import sha256_file
from pseudolink.settings import Workspace, workspace

FORMAT = "pseudolink-backup/1"
#: Never archived: a login token, plaintext scratch, SQLite's own files (the catalog goes
#: in as a consistent copy), and temporaries of interrupted writes.
SKIPPED_TOP = {"session", "scratch", "catalog.db", "catalog.db-wal", "catalog.db-shm",
               "catalog.db-journal"}
EXIT_DAMAGED = 1


class _Hashing:
    """A read-only file wrapper that hashes what tarfile reads from it."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.digest = fh, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        return data


def _workspace_files(space: Workspace, exclude: Path | None) -> list[Path]:
    root = space.root.resolve()
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in SKIPPED_TOP or path.name.endswith(".tmp") or path.is_symlink():
            continue
        if path.is_file() and (exclude is None or path.resolve() != exclude):
            found.append(path)
    return found


def _dir_modes(space: Workspace) -> dict[str, int]:
    """Each folder's permissions (keys/ and private/ are 0700), to restore them as they were."""
    root = space.root.resolve()
    return {p.relative_to(root).as_posix(): p.stat().st_mode & 0o777
            for p in sorted(root.rglob("*"))
            if p.is_dir() and not p.is_symlink()
            and p.relative_to(root).parts[0] not in SKIPPED_TOP}


def _add(tar: tarfile.TarFile, name: str, path: Path) -> dict[str, Any]:
    stat = path.stat()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = stat.st_size, stat.st_mode & 0o777, int(stat.st_mtime)
    with open(path, "rb") as fh:
        reader = _Hashing(fh)
        tar.addfile(info, reader)  # type: ignore[arg-type]
    return {"path": name, "sha256": reader.digest.hexdigest(), "size": stat.st_size,
            "mode": info.mode}


def _recipients(to: list[str], recipients_file: Path | None) -> list[Any]:
    import pyrage

    given = list(to)
    if recipients_file is not None:
        try:
            lines = recipients_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise fail(f"--recipients-file {recipients_file}: {exc.strerror}") from None
        given += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not given:
        raise fail("name who can open the backup: --to age1... (repeatable) or "
                   "--recipients-file FILE")
    parsed = []
    for number, text in enumerate(given, 1):
        try:
            parsed.append(pyrage.x25519.Recipient.from_str(text))
        except Exception:
            raise fail(f"recipient {number} is not an age X25519 recipient (age1...)") from None
    return parsed


@app.command()
def backup(
    out: Annotated[Path, typer.Option("--out", help="The archive to write (age-encrypted).")],
    to: Annotated[list[str] | None, typer.Option(
        "--to", help="An age recipient (age1...) who can open the archive; repeatable.")] = None,
    recipients_file: Annotated[Path | None, typer.Option(
        "--recipients-file", help="A file of age recipients, one a line.")] = None,
    workdir: WorkdirOption = None,
) -> None:
    """Write the whole workspace to one encrypted, signed archive (needs an admin's login
    and the workspace passphrase, to sign the manifest with the audit key)."""
    import pyrage

    import catalog
    from linkage import scratch
    from pseudolink.cli.session import acting_user

    space = ws(workdir)
    recipients = _recipients(to or [], recipients_file)
    actor = acting_user(space)
    out = Path(os.path.abspath(out))
    if not out.parent.is_dir():
        raise fail(f"--out {out}: folder {out.parent} does not exist")
    try:
        signer = catalog.load_audit_signer(space.keys, passphrase())
        anchor = catalog.Anchor(signer, space.audit_checkpoints)
        with catalog.Catalog.connect(space.database_url, root=space.root) as cat:
            cat.require(actor, "workspace.backup")
            # Sign the head first: the archive's chain is then covered by its checkpoints.
            cat.checkpoint_audit(anchor)
            outside = sorted({f.path for f in cat.recorded_files() if Path(f.path).is_absolute()})
            with scratch.private_dir("backup") as tmp:
                # The checkpoints as they were before the copy: a checkpoint written by
                # another process after it would sign entries the copy lacks.
                checkpoints = tmp / "checkpoints.snapshot"
                shutil.copy2(space.audit_checkpoints, checkpoints)
                kind = catalog.dump_catalog(space.database_url, tmp / "catalog.dump")
                manifest: dict[str, Any] = {
                    "format": FORMAT, "created_at": datetime.now(UTC).isoformat(),
                    "created_by": actor, "database": kind,
                    "audit_public_key": _public_hex(space),
                    "audit_key_fingerprint": signer.fingerprint,
                    "outside_workspace": outside, "files": []}
                plain = tmp / "backup.tar"
                with tarfile.open(plain, "w") as tar:
                    manifest["catalog"] = _add(tar, "catalog.dump", tmp / "catalog.dump")
                    manifest["dirs"] = _dir_modes(space)
                    for path in _workspace_files(space, out):
                        rel = path.resolve().relative_to(space.root.resolve()).as_posix()
                        if path.resolve() == space.audit_checkpoints.resolve():
                            path = checkpoints
                        manifest["files"].append(_add(tar, f"workspace/{rel}", path))
                    body = json.dumps(manifest, sort_keys=True, indent=1).encode()
                    for name, data in (("manifest.json", body),
                                       ("manifest.sig", signer.sign(body).hex().encode())):
                        (tmp / name).write_bytes(data)
                        _add(tar, name, tmp / name)
                partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
                try:
                    pyrage.encrypt_file(str(plain), str(partial), recipients)
                    partial.chmod(0o600)
                    os.replace(partial, out)
                finally:
                    partial.unlink(missing_ok=True)
            archive_sha256 = sha256_file(out)
            cat.record_workspace_event("workspace.backup", out.name, {
                "archive_sha256": archive_sha256, "files": len(manifest["files"]),
                "database": kind, "recipients": len(recipients),
                "outside_workspace": len(outside)}, actor=actor)
            cat.checkpoint_audit(anchor)
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    console.print(f"backup written to {out}: catalog ({kind}) and {len(manifest['files'])} "
                  f"files, manifest signed with audit key {signer.fingerprint}; sha256 "
                  f"{archive_sha256}", highlight=False, soft_wrap=True)
    if outside:
        err_console.print(f"note: {len(outside)} recorded file(s) lie outside the workspace "
                          "and are not in the archive (listed in its manifest)",
                          highlight=False)


def _public_hex(space: Workspace) -> str:
    return (space.keys / "audit-signing.pub").read_text(encoding="ascii").strip()


def _identities(path: Path) -> list[Any]:
    import pyrage

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise fail(f"--identity {path}: {exc.strerror}") from None
    found = []
    for line in lines:
        if line.strip().startswith("AGE-SECRET-KEY-"):
            try:
                found.append(pyrage.x25519.Identity.from_str(line.strip()))
            except Exception:
                raise fail(f"--identity {path}: a line is not a valid age identity") from None
    if not found:
        raise fail(f"--identity {path}: no AGE-SECRET-KEY-... line")
    return found


def _extract(tar_path: Path, into: Path) -> None:
    """Regular files only, each inside ``into``: no links, devices or escaping names."""
    with tarfile.open(tar_path, "r:") as tar:
        for member in tar:
            name = Path(member.name)
            if (not member.isfile() or name.is_absolute() or ".." in name.parts
                    or not (member.name in ("manifest.json", "manifest.sig", "catalog.dump")
                            or member.name.startswith("workspace/"))):
                raise fail(f"archive member {member.name!r} is not allowed in a backup: "
                           "refusing the archive")
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            source = tar.extractfile(member)
            assert source is not None
            with source, open(target, "xb") as fh:
                shutil.copyfileobj(source, fh)
            target.chmod(member.mode & 0o777)


def _verify(staged: Path, public_key: Path | None) -> dict[str, Any]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    import catalog

    def verifies(public: Ed25519PublicKey, signature: bytes, body: bytes) -> bool:
        try:
            public.verify(signature, body)
        except InvalidSignature:
            return False
        return True

    try:
        body = (staged / "manifest.json").read_bytes()
        signature = bytes.fromhex((staged / "manifest.sig").read_text(encoding="ascii"))
        manifest = json.loads(body)
    except (OSError, ValueError):
        raise fail("the archive has no readable signed manifest: refusing it") from None
    if manifest.get("format") != FORMAT:
        raise fail(f"not a pseudolink backup of format {FORMAT}: refusing it")
    inside = Ed25519PublicKey.from_public_bytes(bytes.fromhex(manifest["audit_public_key"]))
    if not verifies(inside, signature, body):
        raise fail("the manifest's signature does not verify: the archive was altered")
    if public_key is not None:
        try:
            witness = catalog.load_audit_public(public_key)
        except catalog.CatalogError as exc:
            raise fail(str(exc)) from None
        if not verifies(witness, signature, body):
            raise fail(f"the manifest was not signed by the key in {public_key}: this "
                       "archive is not from the workspace you expect")
    expected = {item["path"]: item for item in [*manifest["files"], manifest["catalog"]]}
    present = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    present -= {"manifest.json", "manifest.sig"}
    for extra in sorted(present - set(expected)):
        raise fail(f"archive member {extra} is not in the signed manifest: refusing it")
    for name, item in sorted(expected.items()):
        if name not in present:
            raise fail(f"{name} is listed in the manifest but missing from the archive")
        if sha256_file(staged / name) != item["sha256"]:
            raise fail(f"{name} differs from the signed manifest: the archive was altered")
    return manifest


def _write_settings(space: Workspace, database_url: str) -> None:
    settings = space.settings()
    settings["database_url"] = database_url
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    partial = space.settings_file.with_name(f".{space.settings_file.name}.{os.getpid()}.tmp")
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(partial, space.settings_file)


@app.command()
def restore(
    archive: Annotated[Path, typer.Argument(help="The archive `pseudolink backup` wrote.")],
    identity: Annotated[Path, typer.Option(
        "--identity", help="An age identity file (AGE-SECRET-KEY-...) of a recipient.")],
    workdir: WorkdirOption = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Restore the catalog into this new, empty PostgreSQL "
        "database (default: SQLite in the workspace, for a SQLite backup).")] = None,
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="The audit public key from an auditor's copy: the manifest "
        "must be signed by it.")] = None,
) -> None:
    """Restore a backup into a new workspace, verify it, and record the restore."""
    import pyrage
    from sqlalchemy.engine import make_url

    import catalog
    from pseudolink.cli.doctor import examine

    space = workspace(workdir)  # not ws(): that would make scratch/ in the target first
    root = Path(os.path.abspath(space.root))
    if root.exists() and any(p.name != "scratch" for p in root.iterdir()):
        raise fail(f"{root} is not empty: restore into a new workspace folder")
    if database_url and make_url(database_url).password:
        raise fail("--database-url must not carry a password: keep it in PGPASSFILE")
    if not archive.is_file():
        raise fail(f"no archive at {archive}")
    identities = _identities(identity)
    secret = passphrase()
    root.parent.mkdir(parents=True, exist_ok=True)
    staged = root.parent / f".{root.name}.restore-{os.getpid()}.tmp"
    staged.mkdir(mode=0o700)
    try:
        plain = staged / "archive.tar"
        try:
            pyrage.decrypt_file(str(archive), str(plain), identities)
        except (pyrage.DecryptError, OSError):  # a damaged chunk surfaces as an OSError
            raise fail("cannot decrypt the archive: the identity is not one of its recipients, "
                       "or the archive was altered") from None
        unpacked = staged / "unpacked"
        unpacked.mkdir(mode=0o700)
        try:
            _extract(plain, unpacked)
        except tarfile.TarError:
            raise fail("the archive's contents are damaged: refusing it") from None
        plain.unlink()
        manifest = _verify(unpacked, public_key)
        kind = manifest["database"]
        if kind == "postgresql" and not database_url:
            raise fail("this backup's catalog is PostgreSQL: give --database-url of a new, "
                       "empty PostgreSQL database")
        files = unpacked / "workspace"
        files.mkdir(exist_ok=True, mode=0o700)
        staged_space = Workspace(files)
        # The passphrase must open the restored keys before anything is written.
        signer = catalog.load_audit_signer(staged_space.keys, secret)
        if not database_url and staged_space.settings().get("database_url"):
            raise fail("the backup's settings name a PostgreSQL catalog: give --database-url")
        # The catalog first, while nothing is in the workspace yet: a refused load leaves
        # the target folder as it was.
        catalog.load_catalog(kind, unpacked / "catalog.dump",
                             database_url or f"sqlite:///{files / 'catalog.db'}")
        if database_url:
            _write_settings(staged_space, database_url)
        for rel, mode in sorted(manifest.get("dirs", {}).items()):
            (files / rel).mkdir(parents=True, exist_ok=True)
            (files / rel).chmod(mode)
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for item in files.iterdir():
            if item.name == "scratch" and (root / "scratch").exists():
                continue
            os.replace(item, root / item.name)
        restored = Workspace(root)
        url = database_url or f"sqlite:///{root / 'catalog.db'}"
        with catalog.Catalog.connect(url, root=root) as cat:
            cat.record_workspace_event("workspace.restore", archive.name, {
                "archive_sha256": sha256_file(archive), "backup_created_at":
                manifest["created_at"], "backup_created_by": manifest["created_by"],
                "from_database": kind, "to_database": make_url(url).get_backend_name(),
                "files": len(manifest["files"])}, actor=f"operator:{getpass.getuser()}")
            cat.checkpoint_audit(catalog.Anchor(signer, restored.audit_checkpoints))
    except catalog.CatalogError as exc:
        raise fail(str(exc)) from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    found = examine(restored, passphrase=secret)
    for line in found.problems:
        err_console.print(f"[bold red]PROBLEM[/]  {line}", highlight=False, soft_wrap=True)
    if found.problems:
        raise typer.Exit(EXIT_DAMAGED)
    console.print(f"restored {len(manifest['files'])} files and the catalog ({kind} -> "
                  f"{make_url(url).get_backend_name()}) into {root}; signature, digests, "
                  "audit chain and keys check out", highlight=False, soft_wrap=True)
