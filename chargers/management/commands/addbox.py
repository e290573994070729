from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chargers.models import ChargeBox, Connector, Station


class Command(BaseCommand):
    help = "Create or update a charge box with connectors 1..N (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("serial")
        parser.add_argument("--station", help="station code (created if new)")
        parser.add_argument("--connectors", type=int, default=1)
        parser.add_argument("--password", help="the box must then authenticate (HTTP Basic, username SERIAL)")
        parser.add_argument("--vendor")
        parser.add_argument("--model")

    @transaction.atomic
    def handle(self, *args, serial, station, connectors, password, vendor, model, **options):
        if not serial or len(serial) > 64:
            raise CommandError("SERIAL must be 1 to 64 characters")
        if connectors < 1:
            raise CommandError("--connectors must be at least 1")
        box, created = ChargeBox.objects.get_or_create(serial=serial)
        if station:
            box.station, _ = Station.objects.get_or_create(code=station)
        if password is not None:
            box.set_password(password)
        if vendor is not None:
            box.vendor = vendor
        if model is not None:
            box.model = model
        box.save()
        # Connector 0 is the box itself (OCPP 1.6 §4.9): its status is the box's.
        for connector_id in range(0, connectors + 1):
            Connector.objects.get_or_create(box=box, connector_id=connector_id)
        self.stdout.write(f"{'created' if created else 'updated'} charge box {serial} with {connectors} connector(s)")
