"""Bulk import of id tags, from CSV (the admin, the REST API) or JSON (the REST API): all rows or
none, so a file with one bad line changes nothing. The REST API's single-tag create and update go
through the same rules (``idtags_save``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timezone as dt_timezone

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chargers.choices import AuthorizationStatus
from chargers.models import IdTag
from security.audit import audit_record

COLUMNS = ["id_tag", "status", "expiry", "parent", "note"]
STORED_STATUSES = [s for s in AuthorizationStatus.values if s != AuthorizationStatus.CONCURRENT_TX]
ID_TAG_MAX = IdTag._meta.get_field("id_tag").max_length
NOTE_MAX = IdTag._meta.get_field("note").max_length
BATCH = 1000
ERRORS_SHOWN = 20


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[str] | None = None
    # (where, column, message) of each problem: "line 3" in a CSV file, "item 2" in JSON.
    problems: list[tuple[str, str, str]] | None = None


def _rows(text: str):
    reader = csv.DictReader(io.StringIO(text))
    missing = {"id_tag"} - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"the first line must name the columns ({', '.join(COLUMNS)}); id_tag is missing")
    yield from enumerate(reader, start=2)


def _text(row: dict, column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def _parse(where: str, row: dict, problems: list[tuple[str, str, str]]) -> IdTag | None:
    tag, expiry_text, note = _text(row, "id_tag"), _text(row, "expiry"), _text(row, "note")
    status = _text(row, "status") or AuthorizationStatus.ACCEPTED
    found = []
    if not 1 <= len(tag) <= ID_TAG_MAX or "\x00" in tag:
        found.append(("id_tag", f"id_tag must be 1 to {ID_TAG_MAX} characters"))
    if status not in STORED_STATUSES:
        found.append(("status", f"status {status!r} is not one of {', '.join(STORED_STATUSES)}"))
    expiry = None
    if expiry_text:
        try:
            expiry = parse_datetime(expiry_text)
        except ValueError:  # well formed but impossible, as 2026-02-30
            expiry = None
        if expiry is None:
            found.append(("expiry", f"expiry {expiry_text!r} is not an ISO 8601 date-time"))
        elif timezone.is_naive(expiry):
            expiry = timezone.make_aware(expiry, dt_timezone.utc)  # as `addidtag`: no zone means UTC
    if len(note) > NOTE_MAX or "\x00" in note:
        found.append(("note", f"note is longer than {NOTE_MAX} characters or holds a NUL"))
    if _text(row, "parent") == tag and tag:
        found.append(("parent", "a tag cannot be its own parent"))
    if found:
        problems += [(where, column, message) for column, message in found]
        return None
    return IdTag(id_tag=tag, status=status, expiry=expiry, note=note)


def idtags_import(*, text: str) -> ImportResult:
    """Create or update every tag in ``text`` (CSV with a header line: id_tag, status, expiry,
    parent, note; only id_tag is required). Each line is the whole truth about its tag: an empty
    expiry or parent clears it. A parent must be in the file or already known."""
    try:
        rows = [(f"line {line}", row) for line, row in _rows(text)]
    except (ValueError, csv.Error) as problem:
        return ImportResult(errors=[str(problem)])
    return idtags_save(rows=rows)


def idtags_save(*, rows: list[tuple[str, dict]]) -> ImportResult:
    """``idtags_import`` for rows already read: (where, {column: value}) with the CSV's columns
    (JSON items of the REST API, a single tag it creates or updates)."""
    problems: list[tuple[str, str, str]] = []
    tags: dict[str, IdTag] = {}
    parents: dict[str, str] = {}
    for where, row in rows:
        parsed = _parse(where, row, problems)
        if parsed is None:
            continue
        if parsed.id_tag in tags:
            problems.append((where, "id_tag", f"id_tag {parsed.id_tag!r} appears twice"))
            continue
        tags[parsed.id_tag] = parsed
        if parent := _text(row, "parent"):
            parents[parsed.id_tag] = parent
    unknown = set(parents.values()) - set(tags) - set(
        IdTag.objects.filter(id_tag__in=set(parents.values())).values_list("id_tag", flat=True)
    )
    # Once per missing parent, however many members name it.
    problems += [("", "parent", f"parent {name!r} is neither in the file nor a known id tag") for name in sorted(unknown)]
    if problems:
        errors = _lines_of(problems)
        return ImportResult(errors=errors[:ERRORS_SHOWN] + ([f"... and {len(errors) - ERRORS_SHOWN} more"]
                                                        if len(errors) > ERRORS_SHOWN else []), problems=problems)
    with transaction.atomic():
        existing = set(IdTag.objects.filter(id_tag__in=list(tags)).values_list("id_tag", flat=True))
        IdTag.objects.bulk_create(
            tags.values(), batch_size=BATCH, update_conflicts=True, unique_fields=["id_tag"],
            update_fields=["status", "expiry", "note", "parent"],
        )
        # Second pass: a parent may come later in the file than its members.
        ids = dict(IdTag.objects.filter(id_tag__in=list(tags) + list(parents.values())).values_list("id_tag", "pk"))
        children = [IdTag(pk=ids[child], parent_id=ids[parent]) for child, parent in parents.items()]
        IdTag.objects.bulk_update(children, ["parent"], batch_size=BATCH)
        # Written in bulk (no signal per row): one audit entry names the tags the file set.
        audit_record(action="imported", object_type="chargers.IdTag", object_id="",
                     summary=f"{len(tags)} id tags imported ({len(tags) - len(existing)} new)",
                     changes={"created": sorted(set(tags) - existing)[:1000], "updated": sorted(existing)[:1000]})
    return ImportResult(created=len(tags) - len(existing), updated=len(existing))


def _lines_of(problems: list[tuple[str, str, str]]) -> list[str]:
    """One message per row with problems, its problems joined ("line 3: status ...; expiry ..."); a
    problem of the whole file (a missing parent) on a line of its own."""
    by_row: dict[str | int, list[str]] = {}
    for n, (where, _, message) in enumerate(problems):
        by_row.setdefault(where or n, []).append(message)
    return [f"{where}: {'; '.join(messages)}" if isinstance(where, str) else messages[0]
            for where, messages in by_row.items()]
