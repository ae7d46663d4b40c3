"""The floor a passphrase must clear before it protects a party's private keys.

scrypt makes each guess cost about a third of a second, but that only helps when the
guesses needed are many: ``a`` or ``password1`` falls to the first few hundred tries of any
cracking list. zxcvbn estimates the guesses a realistic attacker needs (dictionaries,
keyboard walks, dates, repeats), so the floor is set in guesses, with a length floor beside
it for the estimator's blind spots.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from linkage.errors import LinkageError

MIN_LENGTH = 12
#: zxcvbn's score 4: at least 10^10 guesses, decades of one core at scrypt's cost.
MIN_SCORE = 4


def check_passphrase(passphrase: str) -> None:
    """Refuse a passphrase that is short or guessable, saying why and what would do.

    >>> check_passphrase("amber otter quartz seventy")
    >>> check_passphrase("a")
    Traceback (most recent call last):
    ...
    linkage.errors.LinkageError: the passphrase is too short (1 characters; at least 12): ...
    """
    hint = ("use four or more unrelated words, or a passphrase file "
            "(PSEUDOLINK_PASSPHRASE_FILE) written by your secret manager")
    if len(passphrase) < MIN_LENGTH:
        raise LinkageError(f"the passphrase is too short ({len(passphrase)} characters; at "
                           f"least {MIN_LENGTH}): {hint}")
    from zxcvbn import zxcvbn

    # zxcvbn is slow and pointless past 100 characters; such a passphrase is long enough.
    result = zxcvbn(passphrase[:100])
    if result["score"] < MIN_SCORE:
        reason = result["feedback"].get("warning") or "it is too easy to guess"
        raise LinkageError(f"the passphrase is too weak ({reason.rstrip('.')}; about "
                           f"10^{result['guesses_log10']:.0f} guesses, the floor is 10^10): "
                           f"{hint}")


def read_passphrase_file(path: str | Path) -> str:
    """The passphrase in ``path``, for automated deployments; the file must be 0600 or stricter.

    A file that others on the host could read would make the scrypt layer decorative, so it
    is refused rather than used. One trailing newline is dropped (``echo`` adds it).
    """
    path = Path(path)
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LinkageError(f"{path}: cannot read the passphrase file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise LinkageError(f"{path}: the passphrase file is not UTF-8 text") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise LinkageError(f"{path}: the passphrase file is readable by others (mode "
                           f"{stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise LinkageError(f"{path}: the passphrase file belongs to another user")
    value = text[:-1] if text.endswith("\n") else text
    if not value:
        raise LinkageError(f"{path}: the passphrase file is empty")
    return value


__all__ = ["MIN_LENGTH", "MIN_SCORE", "check_passphrase", "read_passphrase_file"]
