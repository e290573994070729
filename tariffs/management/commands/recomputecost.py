from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from tariffs.moments import local_moment
from transactions.costing import transactions_cost_recompute


def bound(text: str, *, option: str, end: bool) -> datetime:
    """--from's local midnight, or the midnight after --to's day (both days included)."""
    try:
        return local_moment(text, field=option, after_day=end)
    except DomainError as exc:
        raise CommandError(f"{option}: {exc.message}") from None


def shown(cost) -> str:
    if cost is None:
        return "no cost"
    return f"{cost.total} {cost.currency} ({cost.tariff_code})"


class Command(BaseCommand):
    help = ("Recompute the cost of the sessions that stopped between two dates (local time, both days included) "
            "from their stored meter values and the tariffs as they are now; prints what changed.")

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", required=True, metavar="DATE")
        parser.add_argument("--to", dest="end", required=True, metavar="DATE")

    def handle(self, *args, start, end, **options):
        stopped_from, stopped_to = bound(start, option="--from", end=False), bound(end, option="--to", end=True)
        if stopped_to <= stopped_from:
            raise CommandError("--to: before --from")
        recomputed = changed = 0
        for change in transactions_cost_recompute(stopped_from=stopped_from, stopped_to=stopped_to):
            recomputed += 1
            if change.changed:
                changed += 1
                self.stdout.write(f"#{change.transaction_id}: {shown(change.before)} -> {shown(change.after)}")
        self.stdout.write(f"{recomputed} sessions recomputed, {changed} changed")
