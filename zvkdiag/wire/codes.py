"""Session IDs and one-time passwords: generation, display and normalisation.

The password is read aloud over the phone, so its alphabet leaves out the
letters and digits people confuse (0/O/o, 1/l/I/i).  Eight characters from 31
symbols give 39.6 bits; SPAKE2 allows one online guess per try and the agent
replaces the password after three failed tries, so that is plenty.
"""

from __future__ import annotations

import math
import secrets

from zvkdiag._errors import InvalidCode

__all__ = [
    "ID_DIGITS",
    "PASSWORD_ALPHABET",
    "PASSWORD_BITS",
    "PASSWORD_LENGTH",
    "format_id",
    "format_password",
    "new_id",
    "new_password",
    "normalise_id",
    "normalise_password",
]

ID_DIGITS = 9
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
PASSWORD_LENGTH = 8
PASSWORD_BITS = PASSWORD_LENGTH * math.log2(len(PASSWORD_ALPHABET))
_SEPARATORS = " -_.\t"
_CONFUSABLE = {"0": "0 (zero)", "o": "o", "1": "1 (one)", "l": "l", "i": "i"}


def new_id(shard: int | None = None) -> str:
    """Return nine random digits, never starting with 0 (it reads badly aloud).

    With ``shard`` (1-9) the first digit is the shard's: the engineer's side
    finds the relay that issued an ID from that digit alone.
    """
    if shard is None:
        return str(100_000_000 + secrets.randbelow(900_000_000))
    if not 1 <= shard <= 9:
        raise ValueError(f"a shard is one digit 1-9, not {shard}")
    return f"{shard}{secrets.randbelow(100_000_000):08d}"


def new_password() -> str:
    """Return a fresh normalised password (lower case, no separators)."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def format_id(session_id: str) -> str:
    """Group an ID as it is read aloud: ``123 456 789``."""
    digits = normalise_id(session_id)
    return " ".join(digits[i : i + 3] for i in range(0, ID_DIGITS, 3))


def format_password(password: str) -> str:
    """Group a password in fours: ``abcd-efgh``."""
    clean = normalise_password(password)
    return f"{clean[:4]}-{clean[4:]}"


def _strip(text: str) -> str:
    return "".join(ch for ch in text if ch not in _SEPARATORS)


def normalise_id(text: str) -> str:
    """Accept ``123 456 789``, ``123-456-789`` or ``123456789``; raise InvalidCode otherwise."""
    digits = _strip(str(text))
    if len(digits) != ID_DIGITS or not digits.isascii() or not digits.isdigit():
        raise InvalidCode(f"A zvkdiag ID has {ID_DIGITS} digits, like 123 456 789; got {text!r}.")
    return digits


def normalise_password(text: str) -> str:
    """Accept any case, spaces and dashes; raise InvalidCode for impossible characters."""
    clean = _strip(str(text)).lower()
    for ch in clean:
        if ch in _CONFUSABLE:
            raise InvalidCode(
                f"zvkdiag passwords never contain {_CONFUSABLE[ch]}: "
                "please ask the customer to read the password again."
            )
        if ch not in PASSWORD_ALPHABET:
            raise InvalidCode(f"The password contains {ch!r}, which zvkdiag never uses.")
    if len(clean) != PASSWORD_LENGTH:
        raise InvalidCode(
            f"A zvkdiag password has {PASSWORD_LENGTH} characters, like abcd-efgh; "
            f"got {len(clean)}."
        )
    return clean
