"""The room's seccomp filter: its server and kernels open IP sockets, never Unix ones.

A Unix socket is a file, so it crosses the network namespace: a kernel that can open
one could talk to a database or service on the host (PostgreSQL answers root over its
socket under trust auth) or to another room. The room's mount namespace (``sandbox``)
hides the host's sockets; this filter is the second wall, in the kernel, that holds
even where a socket lies somewhere the room can see. Only the room's bridge, which runs
before this filter and is undumpable, holds Unix sockets: those to the hub.

Refused with ``EACCES``: ``socket()`` of any family but ``AF_INET``, ``AF_INET6`` and
``AF_NETLINK`` (so also ``AF_VSOCK``, which no network namespace confines and which
reaches a virtual machine's host), ``io_uring_setup`` (io_uring opens sockets without
the ``socket`` system call), ``ptrace`` and ``process_vm_writev`` (another process's
sockets), and every system call of a foreign ABI (i386, x32). ``socketpair`` stays:
it connects a process to itself (asyncio needs it).

Run by the room's Python as ``room-seccomp.py -- COMMAND...``: stdlib only. It installs
the filter and executes ``COMMAND`` under it; the filter is inherited and cannot be
lifted (``no_new_privs``).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
ALLOWED_FAMILIES = (2, 10, 16)  # AF_INET, AF_INET6, AF_NETLINK

# BPF opcodes: ld word absolute, jump if equal / greater-or-equal (constant), return.
LD_ABS, JEQ, JGE, RET = 0x20, 0x15, 0x35, 0x06

#: Per machine: audit arch, and the numbers of socket, io_uring_setup, ptrace,
#: process_vm_writev; plus the first number of a foreign ABI sharing the arch (x32).
ARCHES = {
    "x86_64": (0xC000003E, {"socket": 41, "io_uring_setup": 425, "ptrace": 101,
                            "process_vm_writev": 311}, 0x40000000),
    "aarch64": (0xC00000B7, {"socket": 198, "io_uring_setup": 425, "ptrace": 117,
                             "process_vm_writev": 271}, None),
}


def unavailable(machine: str | None = None) -> str | None:
    """Why the filter cannot be installed here, or None when it can."""
    machine = machine or platform.machine()
    if machine not in ARCHES:
        return f"no seccomp filter is written for {machine} (only {', '.join(ARCHES)})"
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            if not any(line.startswith("Seccomp:") for line in status):
                return "the kernel has no seccomp (CONFIG_SECCOMP_FILTER)"
    except OSError as exc:
        return f"cannot read /proc/self/status: {exc}"
    return None


def program(machine: str | None = None) -> bytes:
    """The classic-BPF program (``struct sock_filter`` array) for ``machine``."""
    arch, numbers, foreign = ARCHES[machine or platform.machine()]
    deny = RET_ERRNO | errno.EACCES
    code: list[tuple[int, int, int, int]] = []

    def op(kind: int, k: int, jt: int = 0, jf: int = 0) -> None:
        code.append((kind, jt, jf, k))

    # seccomp_data: nr at 0, arch at 4, args[0] (low half, little-endian) at 16.
    op(LD_ABS, 4)
    op(JEQ, arch, 1, 0)
    op(RET, deny)
    op(LD_ABS, 0)
    if foreign is not None:
        op(JGE, foreign, 0, 1)
        op(RET, deny)
    denied = [numbers[name] for name in ("io_uring_setup", "ptrace", "process_vm_writev")]
    for number in denied:
        op(JEQ, number, 0, 1)
        op(RET, deny)
    op(JEQ, numbers["socket"], 1, 0)
    op(RET, RET_ALLOW)
    op(LD_ABS, 16)
    for family in ALLOWED_FAMILIES:
        op(JEQ, family, 0, 1)
        op(RET, RET_ALLOW)
    op(RET, deny)
    return b"".join(struct.pack("HBBI", *instruction) for instruction in code)


def install() -> None:
    """Install the filter on this process (and so on everything it executes)."""
    filters = program()

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    prog = SockFprog(len(filters) // 8, filters)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.prctl(
            PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"cannot install the room's seccomp filter: {os.strerror(code)}")


def main(argv: list[str] | None = None) -> int:
    """``room-seccomp.py -- COMMAND...``: run COMMAND under the filter, or fail (exit 2)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print("error: name the command to run after --", file=sys.stderr)
        return 2
    reason = unavailable()
    if reason is None:
        try:
            install()
        except OSError as exc:
            reason = str(exc)
    if reason is not None:
        # The hub checked before starting the room (``unavailable``): failing here means
        # the host changed under it, and a room without its filter must not start.
        print(f"error: {reason}", file=sys.stderr)
        return 2
    os.execvp(args[0], args)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
