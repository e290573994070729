from django.core.management.base import BaseCommand

from firmware.ftpserver import serve


class Command(BaseCommand):
    help = ("Serve firmware images and diagnostics uploads over FTP, with explicit TLS (AUTH TLS) available, "
            "on FTP_HOST:FTP_PORT (EVCHONG rule 1 h).")

    def handle(self, *args, **options):
        serve()
