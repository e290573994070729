import json

from django.core.management.base import BaseCommand, CommandError

from chargers.services import box_by_serial
from core.errors import DomainError
from firmware.services import diagnostics_upload_open


class Command(BaseCommand):
    help = ("Open a place on the FTP server where a box may upload its diagnostics and print one JSON line "
            "with its url: the location to give the box in GetDiagnostics.")

    def add_arguments(self, parser):
        parser.add_argument("serial", help="the charge box")
        parser.add_argument("--max-bytes", type=int, help="the most it may upload (default DIAGNOSTICS_MAX_BYTES)")
        parser.add_argument("--hours", type=float, help="how long it may (default DIAGNOSTICS_UPLOAD_HOURS)")

    def handle(self, *args, serial, max_bytes, hours, **options):
        box = box_by_serial(serial)
        if box is None:
            raise CommandError(f"unknown charge box {serial}")
        try:
            upload = diagnostics_upload_open(box=box, max_bytes=max_bytes, hours=hours)
        except DomainError as refusal:
            raise CommandError(f"{refusal.field}: {refusal.message}") from None
        self.stdout.write(json.dumps({"id": upload.pk, "box": serial, "url": upload.url,
                                      "maxBytes": upload.max_bytes, "expires": upload.expires.isoformat()}))
