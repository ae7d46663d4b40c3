"""An unlocked party key kept for a while in the Linux kernel's keyring, never on disk.

Every CLI command is a new process, and unlocking a party's key file costs a deliberate
scrypt derivation, so a pipeline of ``holder prepare`` and ``link`` runs paid it per
command. With ``PSEUDOLINK_KEY_CACHE_SECONDS`` set (opt-in), the first unlock also puts the
decrypted key file into the kernel's per-user keyring (kernel memory: not written to disk,
not in backups, gone at reboot) with that expiry, and later commands of the same user take
it from there, as ssh-agent serves a key once unlocked. A plaintext file, even 0600, would
outlive the session and travel in every copy of the disk; it is not an option.

Entries are named by the key file's path and the SHA-256 of its sealed bytes, so a key file
that is replaced (a new party key, a restore) is unlocked afresh. Who can read an entry:
processes of the same user, the same boundary as the passphrase file and the key files
(docs/security.md). Elsewhere than Linux, or where the keyring is refused, nothing is
cached and every command unlocks as before.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
from pathlib import Path

ENV = "PSEUDOLINK_KEY_CACHE_SECONDS"
#: (add_key, keyctl) system call numbers per architecture.
_SYSCALLS = {"x86_64": (248, 250), "aarch64": (217, 219)}
_USER_KEYRING = -4  # KEY_SPEC_USER_KEYRING
_KEYCTL_SETPERM, _KEYCTL_SEARCH, _KEYCTL_READ = 5, 10, 11
_KEYCTL_SET_TIMEOUT, _KEYCTL_INVALIDATE = 15, 21
#: Possessor: view, read, write, search, link, setattr; user: view only (no read).
_PERMISSIONS = 0x3F010000
_MAX_PAYLOAD = 32_767


def cache_seconds() -> int:
    """How long an unlocked key stays cached: ``PSEUDOLINK_KEY_CACHE_SECONDS`` (0 = off)."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return 0
    try:
        seconds = int(raw)
    except ValueError:
        raise ValueError(f"{ENV} must be a whole number of seconds, got {raw!r}") from None
    if not 0 <= seconds <= 24 * 3600:
        raise ValueError(f"{ENV} must lie between 0 and 86400 seconds, got {seconds}")
    return seconds


def _libc():
    if platform.system() != "Linux" or platform.machine() not in _SYSCALLS:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _description(path: Path, sealed: bytes) -> bytes:
    """No secret in the name: /proc/keys shows it to the user."""
    digest = hashlib.sha256(str(Path(path).resolve()).encode() + b"\0"
                            + hashlib.sha256(sealed).digest()).hexdigest()
    return f"pseudolink:v1:{digest}".encode()


def _find(libc, description: bytes) -> int:
    _, keyctl = _SYSCALLS[platform.machine()]
    return libc.syscall(keyctl, _KEYCTL_SEARCH, ctypes.c_long(_USER_KEYRING), b"user",
                        description, ctypes.c_long(0))


def fetch(path: Path, sealed: bytes) -> bytes | None:
    """The cached plaintext of this key file, or None."""
    libc = _libc()
    if libc is None:
        return None
    key = _find(libc, _description(path, sealed))
    if key < 0:
        return None
    _, keyctl = _SYSCALLS[platform.machine()]
    buffer = ctypes.create_string_buffer(_MAX_PAYLOAD)
    size = libc.syscall(keyctl, _KEYCTL_READ, ctypes.c_long(key), buffer,
                        ctypes.c_long(_MAX_PAYLOAD))
    if size < 0 or size > _MAX_PAYLOAD:
        return None
    plain = buffer.raw[:size]
    ctypes.memset(buffer, 0, _MAX_PAYLOAD)
    return plain


def store(path: Path, sealed: bytes, plain: bytes, seconds: int) -> bool:
    """Cache ``plain`` for ``seconds``; False where the kernel keyring is not available."""
    libc = _libc()
    if libc is None or not seconds or len(plain) > _MAX_PAYLOAD:
        return False
    add_key, keyctl = _SYSCALLS[platform.machine()]
    key = libc.syscall(add_key, b"user", _description(path, sealed), plain,
                       ctypes.c_size_t(len(plain)), ctypes.c_long(_USER_KEYRING))
    if key < 0:
        return False
    # A key that cannot be given an expiry is not left behind.
    if libc.syscall(keyctl, _KEYCTL_SET_TIMEOUT, ctypes.c_long(key),
                    ctypes.c_uint(seconds)) < 0:
        libc.syscall(keyctl, _KEYCTL_INVALIDATE, ctypes.c_long(key))
        return False
    libc.syscall(keyctl, _KEYCTL_SETPERM, ctypes.c_long(key), ctypes.c_uint(_PERMISSIONS))
    return True


def forget(path: Path, sealed: bytes) -> None:
    """Drop this key file's cached plaintext, if any."""
    libc = _libc()
    if libc is None:
        return
    key = _find(libc, _description(path, sealed))
    if key >= 0:
        _, keyctl = _SYSCALLS[platform.machine()]
        libc.syscall(keyctl, _KEYCTL_INVALIDATE, ctypes.c_long(key))


def available() -> bool:
    """Whether this machine's kernel keyring accepts and returns an entry."""
    probe = Path("/nonexistent/pseudolink-probe")
    sealed = os.urandom(16)
    try:
        if not store(probe, sealed, b"probe", 5):
            return False
        return fetch(probe, sealed) == b"probe"
    finally:
        forget(probe, sealed)
