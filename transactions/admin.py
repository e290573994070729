from django.contrib import admin

from transactions.models import MeterValue, Transaction


class MeterValueInline(admin.TabularInline):
    model = MeterValue
    extra = 0
    fields = ["timestamp", "measurand", "value", "unit", "phase", "location", "context", "raw_value", "raw_unit"]
    readonly_fields = fields
    can_delete = False
    max_num = 0


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    list_display = ["id", "box", "connector", "id_tag", "started_at", "stopped_at", "energy_wh", "stop_reason"]
    list_filter = ["stop_reason", ("stopped_at", admin.EmptyFieldListFilter)]
    search_fields = ["=id", "box__serial", "id_tag"]
    raw_id_fields = ["box", "connector"]
    list_select_related = ["box", "connector"]
    readonly_fields = ["energy_wh", "created"]
    date_hierarchy = "started_at"
    show_full_result_count = False
    inlines = [MeterValueInline]


@admin.register(MeterValue)
class MeterValueAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "box", "connector_id", "transaction", "measurand", "value", "unit", "phase"]
    list_filter = ["measurand"]
    search_fields = ["=transaction__id", "box__serial"]
    raw_id_fields = ["box", "transaction"]
    show_full_result_count = False
