"""What PostgreSQL can store of what a box or a caller sends: text and jsonb cannot hold a NUL
character, which JSON allows (escaped as \\u0000)."""

from __future__ import annotations


def holds_nul(value) -> bool:
    """Whether a string anywhere in ``value`` (a decoded JSON document) holds a NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    return False


def storable(text: str) -> str:
    """``text`` with each NUL written as its JSON escape, as a journal can keep it."""
    return text.replace("\x00", "\\u0000")
