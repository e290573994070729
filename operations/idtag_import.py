"""Bulk import of id tags from CSV: all rows or none, so a file with one bad line changes nothing."""

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


def _rows(text: str):
    reader = csv.DictReader(io.StringIO(text))
    missing = {"id_tag"} - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"the first line must name the columns ({', '.join(COLUMNS)}); id_tag is missing")
    yield from enumerate(reader, start=2)


def _parse(line: int, row: dict, errors: list[str]) -> IdTag | None:
    tag = (row.get("id_tag") or "").strip()
    status = (row.get("status") or "").strip() or AuthorizationStatus.ACCEPTED
    expiry_text = (row.get("expiry") or "").strip()
    note = (row.get("note") or "").strip()
    problems = []
    if not 1 <= len(tag) <= ID_TAG_MAX:
        problems.append(f"id_tag must be 1 to {ID_TAG_MAX} characters")
    if status not in STORED_STATUSES:
        problems.append(f"status {status!r} is not one of {', '.join(STORED_STATUSES)}")
    expiry = None
    if expiry_text:
        expiry = parse_datetime(expiry_text)
        if expiry is None:
            problems.append(f"expiry {expiry_text!r} is not an ISO 8601 date-time")
        elif timezone.is_naive(expiry):
            expiry = timezone.make_aware(expiry, dt_timezone.utc)  # as `addidtag`: no zone means UTC
    if len(note) > NOTE_MAX:
        problems.append(f"note is longer than {NOTE_MAX} characters")
    if (row.get("parent") or "").strip() == tag and tag:
        problems.append("a tag cannot be its own parent")
    if problems:
        errors.append(f"line {line}: {'; '.join(problems)}")
        return None
    return IdTag(id_tag=tag, status=status, expiry=expiry, note=note)


def idtags_import(*, text: str) -> ImportResult:
    """Create or update every tag in ``text`` (CSV with a header line: id_tag, status, expiry,
    parent, note; only id_tag is required). Each line is the whole truth about its tag: an empty
    expiry or parent clears it. A parent must be in the file or already known."""
    errors: list[str] = []
    tags: dict[str, IdTag] = {}
    parents: dict[str, str] = {}
    try:
        for line, row in _rows(text):
            parsed = _parse(line, row, errors)
            if parsed is None:
                continue
            if parsed.id_tag in tags:
                errors.append(f"line {line}: id_tag {parsed.id_tag!r} appears twice")
                continue
            tags[parsed.id_tag] = parsed
            if parent := (row.get("parent") or "").strip():
                parents[parsed.id_tag] = parent
    except (ValueError, csv.Error) as problem:
        return ImportResult(errors=[str(problem)])
    unknown = set(parents.values()) - set(tags) - set(
        IdTag.objects.filter(id_tag__in=set(parents.values())).values_list("id_tag", flat=True)
    )
    errors += [f"parent {name!r} is neither in the file nor a known id tag" for name in sorted(unknown)]
    if errors:
        return ImportResult(errors=errors[:ERRORS_SHOWN] + ([f"... and {len(errors) - ERRORS_SHOWN} more"]
                                                        if len(errors) > ERRORS_SHOWN else []))
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
