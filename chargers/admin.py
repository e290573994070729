from django.contrib import admin
from django.utils.html import format_html, format_html_join

from chargers.models import Alarm, ChargeBox, Connector, IdTag, JournalEntry, Station

STATUS_COLOURS = {
    "Available": "#2e7d32", "Preparing": "#1565c0", "Charging": "#1565c0", "SuspendedEV": "#6a1b9a",
    "SuspendedEVSE": "#6a1b9a", "Finishing": "#1565c0", "Reserved": "#ef6c00", "Unavailable": "#616161",
    "Faulted": "#c62828",
}


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "address"]
    search_fields = ["code", "name"]


class ConnectorInline(admin.TabularInline):
    model = Connector
    extra = 0
    fields = ["connector_id", "status", "error_code", "info", "vendor_error_code", "raw_status", "status_time"]
    readonly_fields = fields[1:]


@admin.register(ChargeBox)
class ChargeBoxAdmin(admin.ModelAdmin):
    list_display = ["serial", "station", "registration_status", "online", "connector_states", "last_seen",
                    "firmware_version", "vendor", "model", "protocol"]
    list_filter = ["registration_status", "protocol", "station", "vendor", "model", "firmware_version"]
    search_fields = ["serial", "charge_point_serial", "iccid"]
    list_select_related = ["station"]
    readonly_fields = ["last_seen", "last_boot", "protocol", "connected_node", "created", "password_hash"]
    inlines = [ConnectorInline]
    fieldsets = [
        (None, {"fields": ["serial", "station", "registration_status", "heartbeat_interval", "password_hash"]}),
        ("Reported by the box", {"fields": ["vendor", "model", "charge_point_serial", "firmware_version", "iccid",
                                            "imsi", "meter_type", "meter_serial"]}),
        ("Activity", {"fields": ["protocol", "connected_node", "last_seen", "last_boot", "created"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("connectors")

    @admin.display(boolean=True)
    def online(self, box):
        return box.is_online

    @admin.display(description="connectors")
    def connector_states(self, box):
        return format_html_join(
            " ",
            '<span style="color:#fff;background:{};padding:1px 5px;border-radius:3px">{}:{}</span>',
            ((STATUS_COLOURS.get(c.status, "#9e9e9e"), c.connector_id, c.status or "?")
             for c in box.connectors.all() if c.connector_id > 0),
        )


@admin.register(IdTag)
class IdTagAdmin(admin.ModelAdmin):
    list_display = ["id_tag", "status", "expiry", "parent", "created"]
    list_filter = ["status"]
    search_fields = ["id_tag", "note"]
    raw_id_fields = ["parent"]


@admin.register(JournalEntry)
class JournalEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "box", "direction", "protocol", "action", "short_payload"]
    list_filter = ["direction", "protocol", "action"]
    search_fields = ["box__serial"]
    raw_id_fields = ["box"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="payload")
    def short_payload(self, entry):
        return format_html("<code>{}</code>", entry.payload[:160])


@admin.register(Alarm)
class AlarmAdmin(admin.ModelAdmin):
    list_display = ["raised", "box", "connector_id", "status", "error_code", "vendor_error_code",
                    "notify_user", "notify_operations", "emailed", "cleared"]
    list_filter = ["status", "error_code", "notify_operations", ("cleared", admin.EmptyFieldListFilter)]
    search_fields = ["box__serial"]
    raw_id_fields = ["box"]
