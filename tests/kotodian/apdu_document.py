"""Reads the parts of kotodian-apdu.md that tests/kotodian/data/ holds verbatim, so that the tests
compare our .proto and our tables with the document itself rather than with a second transcription."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def _lines(name: str) -> list[str]:
    return [line for line in (DATA / name).read_text().splitlines() if line and not line.startswith("#")]


@dataclass(frozen=True)
class TableRow:
    request_name: str | None
    request_id: int | None
    reply_name: str | None
    reply_id: int | None
    request_type: str | None
    reply_type: str | None


def message_table() -> list[TableRow]:
    """The rows of kotodian-apdu 1.3, the error row included."""
    rows = []
    for line in _lines("message_table.md"):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] in ("Request ID", "---"):
            continue
        # "**Heartbeat** (name differs)", "(messages commented out ...)", "X / -": keep the type names only.
        types = re.sub(r"\([^)]*\)", "", cells[6].replace("**", "")).strip()
        if "/" in types:
            parts = [part.strip() for part in types.split("/")]
        else:  # the error row names its reply type alone; ID_None and CustomerInformation have none
            parts = [None, types if cells[0] == "(error)" else None]
        request_type, reply_type = (part if part and part != "-" else None for part in parts)
        rows.append(TableRow(
            request_name=cells[0] if cells[0].startswith("ID_") else None,
            request_id=int(cells[1], 16) if cells[1] else None,
            reply_name=cells[3] if cells[3].startswith("ID_") else None,
            reply_id=int(cells[4], 16) if cells[4] else None,
            request_type=request_type,
            reply_type=reply_type,
        ))
    return rows


def messages() -> dict[str, list[tuple[int, str, str]]]:
    """Appendix A: message (nested ones dotted) -> [(number, name, type)], type as the document writes it."""
    result = {}
    for line in _lines("charger_schema.md"):
        name, rest = re.match(r"- ([\w.]+): (.*)$", line).groups()
        if "=" in rest:
            continue  # an enum of Appendix B
        fields = []
        if rest != "(no fields)":
            for part in rest.split("; "):
                number, field, type_ = re.match(r"(\d+) (\w+) \((.+)\)$", part).groups()
                fields.append((int(number), field, type_))
        result[name] = fields
    return result


def enums() -> dict[str, list[tuple[str, int]]]:
    """Appendix B: enum (nested ones dotted) -> [(name, value)] in the document's order."""
    result = {}
    for line in _lines("charger_schema.md"):
        name, rest = re.match(r"- ([\w.]+): (.*)$", line).groups()
        if "=" in rest:
            result[name] = [(key, int(value)) for key, value in (item.split("=") for item in rest.split(", "))]
    return result


def measurands() -> dict[int, str]:
    """Appendix C: code -> name."""
    found = (re.match(r"- (\d+) (\w+):", line) for line in _lines("measurands_and_warnings.md"))
    return {int(match[1]): match[2] for match in found if match}


def warnings() -> dict[int, str]:
    """Appendix D: code -> name."""
    line = next(line for line in _lines("measurands_and_warnings.md") if line.startswith("Other=0"))
    return {int(value): key for key, value in (item.split("=") for item in line.split(", "))}
