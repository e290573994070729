from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from operations.admin_filters import RunningFilter, choices_filter
from operations.admin_mixins import BigTableMixin, ExactSearchMixin
from operations.exports import METER_VALUE_COLUMNS, SESSION_COLUMNS, csv_response
from operations.session_charts import session_charts
from tariffs.admin import session_cost_html
from tariffs.models import BOX_COST_DIFFERS, FLAG_LABELS
from transactions.choices import Reason
from transactions.models import MeterValue, Transaction
from transactions.units import MEASURANDS


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}:{minutes % 60:02d} h"


class BoxCostFilter(admin.SimpleListFilter):
    """Sessions whose box billed otherwise than we did (tariffs.services.box_cost_flags)."""

    title = "the box's bill"
    parameter_name = "box_cost"

    def lookups(self, request, model_admin):
        return [("differs", "differs from ours")]

    def queryset(self, request, queryset):
        if self.value() == "differs":
            return queryset.filter(cost__flags__contains=[BOX_COST_DIFFERS])
        return queryset


@admin.register(Transaction)
class TransactionAdmin(ExactSearchMixin, BigTableMixin, admin.ModelAdmin):
    list_display = ["id", "box", "connector_number", "id_tag", "started_at", "stopped_at", "energy", "duration",
                    "cost_total", "stop_reason"]
    list_filter = [RunningFilter, choices_filter("stop_reason", Reason.values, "stop reason"), BoxCostFilter,
                   ("started_at", admin.DateFieldListFilter)]
    search_numbers = ["id"]
    search_texts = ["box__serial", "id_tag"]
    raw_id_fields = ["box", "connector"]
    list_select_related = ["box", "connector", "cost"]
    readonly_fields = ["box", "connector", "id_tag", "reservation_id", "meter_start_wh", "started_at", "meter_stop_wh",
                       "stopped_at", "stop_reason", "stop_id_tag", "energy_wh", "duration", "created", "meter_values"]
    fieldsets = [
        (None, {"fields": ["box", "connector", "id_tag", "reservation_id"]}),
        ("Session", {"fields": ["started_at", "stopped_at", "duration", "meter_start_wh", "meter_stop_wh", "energy_wh",
                                "stop_reason", "stop_id_tag", "created"]}),
        ("Meter values and cost", {"fields": ["meter_values"]}),
    ]

    class Media:
        css = {"all": ["tariffs/tariffs.css"]}

    def get_ordering(self, request):
        # A box's sessions come from the (box, -started_at) index; ordering them by id instead
        # would walk the primary key through every other box's sessions.
        if "box__id__exact" in request.GET:
            return ["-started_at"]
        return super().get_ordering(request)

    def has_change_permission(self, request, obj=None):
        # Sessions are what the boxes reported: readable, never edited by hand.
        return False

    @admin.display(description="connector", ordering="connector__connector_id")
    def connector_number(self, tx):
        return tx.connector.connector_id

    @admin.display(description="energy", ordering="energy_wh")
    def energy(self, tx):
        return "" if tx.energy_wh is None else f"{tx.energy_wh / 1000:,.2f} kWh"

    @admin.display(description="cost", ordering="cost__total")
    def cost_total(self, tx):
        cost = getattr(tx, "cost", None)
        if cost is None:
            return ""
        if BOX_COST_DIFFERS in cost.flags:  # the box billed otherwise: both figures, marked
            return format_html('{} {} <span class="error" title="{}">box: {}</span>', cost.total, cost.currency,
                               FLAG_LABELS[BOX_COST_DIFFERS], cost.box_reported)
        return f"{cost.total} {cost.currency}"

    @admin.display(description="duration")
    def duration(self, tx):
        if tx.stopped_at is None:
            return "running"
        return _duration((tx.stopped_at - tx.started_at).total_seconds())

    @admin.display(description="charts and cost")
    def meter_values(self, tx):
        charts = mark_safe("".join(session_charts(tx)))  # each chart is an escaped SafeString
        # The cost lines beside the charts where the screen is wide enough, under them elsewhere.
        return format_html(
            '<div class="session-view"><div class="session-charts">{}</div>{}</div>'
            '<p><a href="{}">Meter values as CSV</a> · '
            '<a href="{}?transaction__id__exact={}">Meter values in the admin</a></p>',
            charts, session_cost_html(getattr(tx, "cost", None)),
            reverse("admin:transactions_transaction_metervalues_csv", args=[tx.pk]),
            reverse("admin:transactions_metervalue_changelist"), tx.pk,
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export.csv", view(self.export_sessions), name="transactions_transaction_csv"),
            path("<int:pk>/metervalues.csv", view(self.export_meter_values),
                 name="transactions_transaction_metervalues_csv"),
        ] + super().get_urls()

    def export_sessions(self, request):
        """The sessions the list shows (same filters and search), all pages, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request).order_by("-id")
        return csv_response(queryset, SESSION_COLUMNS, "sessions.csv")

    def export_meter_values(self, request, pk):
        tx = self.get_object(request, str(pk))
        if tx is None or not self.has_view_permission(request, tx):
            raise PermissionDenied
        queryset = MeterValue.objects.filter(transaction=tx).order_by("timestamp", "id")
        return csv_response(queryset, METER_VALUE_COLUMNS, f"session-{tx.pk}-meter-values.csv")


@admin.register(MeterValue)
class MeterValueAdmin(ExactSearchMixin, BigTableMixin, admin.ModelAdmin):
    list_display = ["timestamp", "box", "connector_id", "transaction", "measurand", "value", "unit", "phase",
                    "location", "context"]
    list_filter = [choices_filter("measurand", MEASURANDS)]
    search_numbers = ["transaction_id"]
    search_texts = ["box__serial"]
    list_select_related = ["box", "transaction"]
    raw_id_fields = ["box", "transaction"]

    def get_ordering(self, request):
        # One session's values come from the (transaction, timestamp) index.
        if "transaction__id__exact" in request.GET:
            return ["-timestamp"]
        return super().get_ordering(request)

    def has_change_permission(self, request, obj=None):
        return False
