from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from tariffs.periods import Period
from tariffs.splitter import Flag

CURRENCY = RegexValidator(r"^[A-Z]{3}$", "an ISO 4217 code of three capital letters, e.g. CNY")
# A tariff's code is a path segment of the API (/api/v1/tariffs/{code}).
TARIFF_CODE = RegexValidator(r"^[A-Za-z0-9._-]{1,40}$", "1 to 40 letters, digits, '.', '_' or '-'")


def price_field(**options) -> models.DecimalField:
    # Up to 4 decimals (DESIGN.md §3): 0.1 fen per kWh is the finest price boxes speak of.
    return models.DecimalField(max_digits=10, decimal_places=4, validators=[MinValueValidator(Decimal(0))], **options)


def money_field(**options) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, **options)


class Tariff(models.Model):
    """Time-of-use prices per kWh (energy and service), in local time (TIME_ZONE). A station's
    tariff applies to its boxes, a default one to boxes of stations without one; of several, the
    one valid latest at a session's start (no valid_from: valid since ever)."""

    code = models.CharField(max_length=40, unique=True, validators=[TARIFF_CODE])
    name = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3, default="CNY", validators=[CURRENCY])
    valid_from = models.DateTimeField(
        null=True, blank=True, help_text="applies to sessions that start at or after this; empty: since ever"
    )
    stations = models.ManyToManyField("chargers.Station", blank=True, related_name="tariffs")
    is_default = models.BooleanField(default=False, help_text="for boxes of stations that have no tariff")
    idle_fee_per_hour = price_field(null=True, blank=True, help_text="charged after the grace, once energy stopped")
    idle_grace_minutes = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["is_default"], name="tariff_default", condition=Q(is_default=True))]

    def __str__(self):
        return self.code

    def period_values(self) -> list[Period]:
        return [p.as_period() for p in self.periods.all()]


class TariffPeriod(models.Model):
    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="periods")
    start = models.TimeField(help_text="local time")
    end = models.TimeField(help_text="local time; at or before the start: the period wraps midnight")
    energy_price = price_field(help_text="per kWh")
    service_price = price_field(help_text="per kWh")

    class Meta:
        ordering = ["tariff", "start"]
        constraints = [
            models.UniqueConstraint(fields=["tariff", "start"], name="tariff_period_start_once"),
            models.CheckConstraint(condition=Q(energy_price__gte=0) & Q(service_price__gte=0),
                                   name="tariff_period_prices_not_negative"),
        ]

    def __str__(self):
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def as_period(self) -> Period:
        return Period(self.start.hour * 60 + self.start.minute, self.end.hour * 60 + self.end.minute,
                      self.energy_price, self.service_price)


class SessionCost(models.Model):
    """What a session cost, worked out when it stopped (or recomputed since) from its meter values
    and the tariff valid at its start. Lines as the read API shows them, plus each line's exact
    energy as a fraction of Wh."""

    transaction = models.OneToOneField(
        "transactions.Transaction", on_delete=models.CASCADE, primary_key=True, related_name="cost"
    )
    tariff = models.ForeignKey(Tariff, null=True, on_delete=models.SET_NULL, related_name="+")
    tariff_code = models.CharField(max_length=40, help_text="kept should the tariff be deleted")
    currency = models.CharField(max_length=3)
    energy = money_field()
    service = money_field()
    idle = money_field()
    total = money_field()
    lines = models.JSONField(default=list)
    # What the box itself said the session cost, where its protocol carries one; OCPP 1.6 and the
    # EVCHONG forward API do not.
    box_reported = money_field(null=True, blank=True)
    flags = models.JSONField(default=list, blank=True, help_text="what was left out as inconsistent")
    computed = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.total} {self.currency}"

    @property
    def flag_labels(self) -> list[str]:
        return [FLAG_LABELS.get(flag, flag) for flag in self.flags]


# Not the splitter's: a flag of the comparison with the box's own figure (tariffs.services).
BOX_COST_DIFFERS = "box_cost_differs"

FLAG_LABELS = {
    BOX_COST_DIFFERS: "the box's own total differs from ours by more than 0.01",
    Flag.STOP_BEFORE_START: "the stop is before the start: all energy priced at the start",
    Flag.METER_BACKWARDS: "meterStop is below meterStart: no energy charged",
    Flag.READINGS_OUTSIDE: "meter values outside the session's time left out",
    Flag.READINGS_INCONSISTENT: "meter values out of order or beyond meterStop left out",
    Flag.SESSION_TOO_LONG: "the session lasts more than a month: all energy priced at the start",
}
