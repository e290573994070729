import json
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from firmware.services import firmware_image_add


class Command(BaseCommand):
    help = ("Store a firmware image and print one JSON line: its id, version, the ftp:// URL boxes fetch "
            "it from (over FTP, or FTPS at the same address) and its MD5 and SHA-256.")

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is the image's (DESIGN.md §3); Django's own --version (its release) gives way.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("file", help="the firmware image")
        parser.add_argument("--version", required=True, help="the version the box reports once it runs it")
        parser.add_argument("--vendor", default="", help="the vendor of the boxes it fits")
        parser.add_argument("--model", default="", help="the model of the boxes it fits")

    def handle(self, *args, file, version, vendor, model, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            with path.open("rb") as handle:
                image = firmware_image_add(file=File(handle, name=path.name), version=version, vendor=vendor,
                                           model=model)
        except DomainError as refusal:
            raise CommandError(f"{refusal.field}: {refusal.message}") from None
        self.stdout.write(json.dumps({"id": image.pk, "version": image.version, "url": image.url,
                                      "md5": image.md5, "sha256": image.sha256}))
