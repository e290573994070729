"""`python manage.py kotodianbridge`: the Kotodian edge's MQTT bridge (kotodian.bridge), for as
long as it is not stopped (SIGTERM or Ctrl-C)."""

from django.core.management.base import BaseCommand

from kotodian.bridge import run


class Command(BaseCommand):
    help = "Serve Kotodian boxes over MQTT: subscribe their uplink topics at MQTT_URL and answer them."

    def handle(self, *args, **options):
        run()
