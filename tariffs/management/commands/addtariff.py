from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from tariffs.moments import local_moment
from tariffs.periods import period_parse, price_parse
from tariffs.services import TariffInput, tariff_save

# The option each service field comes from, to name it in an error.
OPTION_OF = {"code": "CODE", "periods": "--period", "stations": "--station", "currency": "--currency",
             "idleFeePerHour": "--idle-fee", "idleGraceMinutes": "--idle-grace", "validFrom": "--valid-from"}


class Command(BaseCommand):
    help = ("Create or replace a time-of-use tariff (DESIGN.md §3). Periods are in local time (TIME_ZONE), cover "
            "the whole day and may wrap midnight; prices per kWh, up to 4 decimals.")

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--period", action="append", default=[], metavar="HH:MM-HH:MM=ENERGY+SERVICE",
                            help="repeat for each period, e.g. --period 22:00-06:00=0.3+0.4")
        parser.add_argument("--station", action="append", default=[], metavar="CODE",
                            help="a station whose boxes use this tariff (repeatable)")
        parser.add_argument("--default", action="store_true", help="for boxes of stations without a tariff")
        parser.add_argument("--currency", default="CNY")
        parser.add_argument("--idle-fee", metavar="PER_HOUR", help="charged per hour of idling after the grace")
        parser.add_argument("--idle-grace", metavar="MINUTES", help="minutes of idling that are free")
        parser.add_argument("--valid-from", metavar="DATE", help="for sessions that start from then on; default: all")
        parser.add_argument("--name", default="")

    def handle(self, *args, code, period, station, default, currency, idle_fee, idle_grace, valid_from, name,
               **options):
        if not period:
            raise CommandError("--period: at least one, e.g. --period 00:00-00:00=0.8+0.4 for a flat price")
        if idle_grace is not None and idle_fee is None:
            raise CommandError("--idle-grace: only with --idle-fee")
        try:
            grace = int(idle_grace or 0)
        except ValueError:
            raise CommandError(f"--idle-grace {idle_grace!r} is not a whole number of minutes") from None
        try:
            data = TariffInput(
                code=code, name=name, currency=currency, is_default=default, station_codes=tuple(station),
                periods=[period_parse(text, field="periods") for text in period],
                idle_fee_per_hour=price_parse(idle_fee, field="idleFeePerHour") if idle_fee is not None else None,
                idle_grace_minutes=grace,
                valid_from=local_moment(valid_from, field="validFrom") if valid_from else None,
            )
            tariff, created = tariff_save(data=data)
        except DomainError as exc:
            option = OPTION_OF.get((exc.field or "").split(" ")[0], exc.field)
            raise CommandError(f"{option}: {exc.message}") from None
        where = ", ".join(tariff.stations.values_list("code", flat=True)) or "no station"
        self.stdout.write(
            f"{'created' if created else 'replaced'} tariff {tariff.code}: {tariff.periods.count()} periods in "
            f"{tariff.currency}, {where}{', default' if tariff.is_default else ''}"
        )
