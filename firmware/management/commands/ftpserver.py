from pathlib import Path

from django.core.management.base import BaseCommand

from firmware.ftpserver import serve


class Command(BaseCommand):
    help = ("Serve firmware images and diagnostics uploads over FTP, with explicit TLS (AUTH TLS) available, "
            "on FTP_HOST:FTP_PORT (EVCHONG rule 1 h).")

    def add_arguments(self, parser):
        parser.add_argument("--record", type=Path, help="write where the server listens and reads its files to "
                            "this file while it runs; manage.py commands find it at var/ftpserver.json")

    def handle(self, *args, record, **options):
        serve(record)
