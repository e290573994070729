"""`python manage.py kotodianmqtt`: the MQTT accounts of the Kotodian edge (docs/adr/0021): the
registration account that boxes leave the factory with, and, given serials, the credentials that
DeviceRegistrationConf hands those boxes (for a box configured by hand)."""

from django.core.management.base import BaseCommand, CommandError

from chargers.models import ChargeBox
from kotodian.credentials import box_credentials, registration_credentials
from kotodian.mqttaccess import kind_of


class Command(BaseCommand):
    help = "Print the Kotodian registration MQTT account, and the MQTT credentials of the boxes named."

    def add_arguments(self, parser):
        parser.add_argument("serials", nargs="*", help="serials of boxes added with addbox")

    def handle(self, *args, serials, **options):
        account = registration_credentials()
        self.stdout.write(f"registration\t{account.username}\t{account.password}")
        for serial in serials:
            if not ChargeBox.objects.filter(serial=serial).exists():
                raise CommandError(f"no charge box {serial!r} (add it with addbox first)")
            if kind_of(serial) is None:
                raise CommandError(f"{serial!r} cannot be an MQTT username (it holds / + # or NUL)")
            box = box_credentials(serial)
            self.stdout.write(f"{serial}\t{box.username}\t{box.password}")
