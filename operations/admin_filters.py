"""Admin filters whose choices are fixed lists: Django's default for a plain CharField runs
SELECT DISTINCT over the whole table on every changelist load."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef

from chargers.choices import ChargePointStatus
from chargers.models import Connector
from chargers.presence import online_q


def choices_filter(field: str, choices, title: str | None = None) -> type[admin.SimpleListFilter]:
    """A filter on ``field`` by its values: ``choices``, a list or a function that returns one."""

    class ChoicesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return [(c, c) for c in (choices() if callable(choices) else choices)]

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    ChoicesFilter.title = title or field.replace("_", " ")
    return ChoicesFilter


class OnlineFilter(admin.SimpleListFilter):
    title = "online"
    parameter_name = "online"

    def lookups(self, request, model_admin):
        return [("yes", "online"), ("no", "offline")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(online_q())
        if self.value() == "no":
            return queryset.exclude(online_q())
        return queryset


class ConnectorStateFilter(admin.SimpleListFilter):
    """Boxes with at least one connector in the state (connector 0 is the box itself)."""

    title = "connector state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return ChargePointStatus.choices

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(Exists(Connector.objects.filter(box=OuterRef("pk"), status=self.value())))


class RunningFilter(admin.SimpleListFilter):
    """Running sessions are found through the partial unique index on (connector) WHERE stopped_at IS NULL."""

    title = "running"
    parameter_name = "running"

    def lookups(self, request, model_admin):
        return [("yes", "running"), ("no", "ended")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(stopped_at__isnull=self.value() == "yes")
        return queryset
