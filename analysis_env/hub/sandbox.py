"""The room's own filesystem and namespaces, made by bubblewrap (``bwrap``).

A network namespace alone left a room the host's files: Unix sockets (PostgreSQL's
answered as superuser), and ``/tmp`` and ``/dev/shm`` shared with every other room,
a channel around the airlock. Each room now starts in namespaces of its own:

- **mount**: a root built from an allow-list, read-only: ``/usr`` (and the ``/bin``,
  ``/lib``... links into it), ``/etc``, ``/sys``, the room's Python and the room tools;
  then the researcher's own room read-write (its modes still apply). Private tmpfs
  ``/tmp``, ``/var/tmp`` and ``/dev/shm``, an empty ``/run`` (``/var/run`` links to it),
  a minimal ``/dev``. The workspace (keys, catalog, other rooms), the project's
  checkout and venv, ``/root``, ``/home`` and ``/var`` are not there at all;
- **pid**: a ``/proc`` that shows the room's own processes only;
- **ipc**, **uts**, and **net** (loopback only; bwrap brings it up).

``--die-with-parent`` and the pid namespace end every process of the room with it.
The seccomp filter (``seccomp``) runs inside, after the bridge. cgroups (``limits``)
are entered before bwrap, by the shell that starts it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

#: Top-level names that are links into /usr on a merged-/usr system, else folders.
USR_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
READ_ONLY = ("/usr", "/etc", "/sys")


def unavailable() -> str | None:
    """Why a room cannot be sandboxed here, or None when it can (bwrap is run once)."""
    if shutil.which("bwrap") is None:
        return "bwrap is not on PATH (Debian package bubblewrap; `make room` installs it)"
    trial = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-ipc",
                            "--unshare-pid", "--unshare-uts", "--proc", "/proc", "--dev",
                            "/dev", "--tmpfs", "/tmp", "--", "true"],
                           capture_output=True, text=True, timeout=30)
    if trial.returncode != 0:
        return (f"bwrap cannot make the room's namespaces here: "
                f"{trial.stderr.strip() or trial.returncode}")
    return None


def _within(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def command(home: Path, tools: Path | None, room_python: Path, *,
            hide: tuple[Path, ...] = (), tmp_size: int | None = None) -> list[str]:
    """The ``bwrap`` words that run a command in ``home``'s room.

    ``hide`` lists paths that must not show even where they lie under an allowed
    folder (the workspace, the hub's own environment). ``tmp_size`` caps each private
    tmpfs (cgroups also count its pages against the room's memory).
    """
    words = ["bwrap", "--unshare-net", "--unshare-ipc", "--unshare-pid", "--unshare-uts",
             "--hostname", "secure-room", "--die-with-parent", "--new-session"]
    roots: list[Path] = []
    hidden: list[Path] = []
    made: set[Path] = set()

    def parents(path: Path) -> None:
        # bwrap would make missing parents 0700, closing the room's uid out of its own
        # folders: make them traverse-only (as harden_workspace leaves them on the host).
        for parent in reversed(path.parents[:-1]):
            if parent not in made and (not _within(parent, roots)
                                       or _within(parent, hidden)):
                made.add(parent)
                words.extend(["--perms", "0711", "--dir", str(parent)])

    def read_only(path: Path) -> None:
        path = Path(os.path.abspath(path))
        if path.exists() and not _within(path, roots):
            parents(path)
            roots.append(path)
            words.extend(["--ro-bind", str(path), str(path)])

    for name in READ_ONLY:
        read_only(Path(name))
    for name in USR_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            words.extend(["--symlink", os.readlink(path), str(path)])
        elif path.is_dir():
            read_only(path)
    # The room's Python: its venv, and the installation the venv points into.
    python = Path(room_python)
    needed = [Path(os.path.abspath(python.parent.parent)),
              Path(os.path.realpath(python)).parent.parent]
    for path in needed:
        read_only(path)
    for path in hide:
        path = Path(os.path.abspath(path))
        # Only strictly inside an allowed folder, and never over the room's own Python
        # (a hub installed into /usr or /usr/local must not hide the system).
        if (_within(path, roots) and path not in roots
                and not any(_within(need, [path]) for need in needed)):
            hidden.append(path)
            words.extend(["--tmpfs", str(path)])
    # Sticky and world-writable as on the host; --perms and --size apply to the next tmpfs.
    shared = ["--perms", "1777", *(["--size", str(tmp_size)] if tmp_size else [])]
    words += ["--proc", "/proc", "--dev", "/dev", *shared, "--tmpfs", "/dev/shm",
              *shared, "--tmpfs", "/tmp", "--tmpfs", "/run", "--dir", "/var",
              "--symlink", "../run", "/var/run", *shared, "--tmpfs", "/var/tmp"]
    made.update(Path(p) for p in ("/tmp", "/run", "/var", "/var/tmp", "/dev"))
    if tools is not None:
        parents(Path(tools))
        words.extend(["--ro-bind", str(tools), str(tools)])
    parents(Path(home))
    words.extend(["--bind", str(home), str(home), "--chdir", str(home), "--"])
    return words
