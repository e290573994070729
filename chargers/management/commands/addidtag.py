from datetime import datetime, time, timezone as dt_timezone

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from chargers.choices import AuthorizationStatus
from chargers.models import IdTag

STORED = [s for s in AuthorizationStatus.values if s != AuthorizationStatus.CONCURRENT_TX]


class Command(BaseCommand):
    help = "Create or update an id tag (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("tag")
        parser.add_argument("--status", choices=STORED, default=AuthorizationStatus.ACCEPTED)
        parser.add_argument("--expiry", help="ISO 8601 date-time; without a zone it is UTC")
        parser.add_argument("--parent", help="parent (group) id tag, created if new")

    def handle(self, *args, tag, status, expiry, parent, **options):
        if not 1 <= len(tag) <= 20:
            raise CommandError("TAG must be 1 to 20 characters (OCPP IdToken)")
        expiry_at = None
        if expiry:
            expiry_at = parse_datetime(expiry)
            if expiry_at is None and (day := parse_date(expiry)) is not None:
                expiry_at = datetime.combine(day, time())  # a date alone: the start of that day (UTC)
            if expiry_at is None:
                raise CommandError(f"--expiry {expiry!r} is not an ISO 8601 date-time")
            if timezone.is_naive(expiry_at):
                expiry_at = timezone.make_aware(expiry_at, dt_timezone.utc)
        parent_tag = None
        if parent:
            if parent == tag:
                raise CommandError("a tag cannot be its own parent")
            parent_tag, _ = IdTag.objects.get_or_create(id_tag=parent)
        _, created = IdTag.objects.update_or_create(
            id_tag=tag, defaults={"status": status, "expiry": expiry_at, "parent": parent_tag}
        )
        self.stdout.write(f"{'created' if created else 'updated'} id tag {tag}: {status}")
