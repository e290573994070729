from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join, format_html

from chargers.choices import (
    AlarmLevel,
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    RegistrationStatus,
    ReservationState,
)
from chargers.models import (
    Alarm,
    ChargeBox,
    ConfigurationKey,
    Connector,
    IdTag,
    JournalEntry,
    LocalAuthList,
    LocalAuthListEntry,
    Reservation,
    Station,
)
from chargers.presence import boxes_with_online
from commands.models import Command, CommandState
from commands.roles import command_allowed
from commands.services import box_accept, box_boot_request, command_issue
from operations.admin_filters import ConnectorStateFilter, OnlineFilter, choices_filter
from operations.admin_mixins import BigTableMixin, ExactSearchMixin, MirrorMixin
from operations.command_views import BoxCommandsMixin
from operations.idtag_import import COLUMNS as IDTAG_COLUMNS
from operations.idtag_import import idtags_import
from transactions.models import Transaction

# Rows of each kind shown on a box's page; the "all" links lead to the filtered lists.
BOX_PAGE_ROWS = 10


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "address"]
    search_fields = ["code", "name"]


class ConfigurationKeyInline(admin.TabularInline):
    """The box's configuration as it last reported or accepted it: a mirror, so read-only ("read
    configuration" refreshes it; ChangeConfiguration changes it on the box)."""

    model = ConfigurationKey
    extra = 0
    fields = ["key", "value", "readonly", "reboot_required", "last_seen"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "configuration (as the box reported or accepted it)"

    def has_add_permission(self, request, obj=None):
        return False


class ConnectorInline(admin.TabularInline):
    model = Connector
    extra = 0
    fields = ["connector_id", "status", "error_code", "info", "vendor_error_code", "raw_status", "status_time"]
    readonly_fields = fields[1:]


@admin.register(ChargeBox)
class ChargeBoxAdmin(BoxCommandsMixin, BigTableMixin, admin.ModelAdmin):
    list_display = ["serial", "station", "registration_status", "online", "connector_states", "last_seen",
                    "firmware_version", "vendor", "model", "protocol"]
    list_filter = ["registration_status", OnlineFilter, ConnectorStateFilter, "station", "vendor", "model",
                   "firmware_version", "protocol"]
    search_fields = ["serial", "charge_point_serial", "iccid"]
    list_select_related = ["station"]
    readonly_fields = ["last_seen", "last_boot", "protocol", "connected_node", "created", "password_hash",
                       "meter_value_sample_interval"]
    inlines = [ConnectorInline, ConfigurationKeyInline]
    actions = ["accept_boxes", "read_configuration"]
    fieldsets = [
        (None, {"fields": ["serial", "station", "registration_status", "heartbeat_interval",
                           "meter_value_sample_interval", "password_hash"]}),
        ("Reported by the box", {"fields": ["vendor", "model", "charge_point_serial", "firmware_version", "iccid",
                                            "imsi", "meter_type", "meter_serial"]}),
        ("Activity", {"fields": ["protocol", "connected_node", "last_seen", "last_boot", "created"]}),
    ]

    def get_queryset(self, request):
        return boxes_with_online(super().get_queryset(request).prefetch_related("connectors"))

    @admin.display(boolean=True)
    def online(self, box):
        return box.is_online

    def save_model(self, request, obj, form, change):
        accepted_now = (change and "registration_status" in form.changed_data
                        and obj.registration_status == RegistrationStatus.ACCEPTED)
        super().save_model(request, obj, form, change)
        if accepted_now:
            self._boot_requested(request, [box_boot_request(box=obj, requested_by=request.user, source="admin")])

    @admin.action(description="Accept selected boxes (and ask them to boot now)", permissions=["change"])
    def accept_boxes(self, request, queryset):
        self._boot_requested(request, [box_accept(box=box, requested_by=request.user, source="admin")
                                       for box in queryset.exclude(registration_status=RegistrationStatus.ACCEPTED)])

    def _boot_requested(self, request, commands):
        sent = [command for command in commands if command is not None]
        if sent:
            messages.info(request, f"Asked {len(sent)} box(es) to boot again (TriggerMessage BootNotification), "
                                   "so that they learn they are accepted now.")

    @admin.action(description="Read configuration (GetConfiguration)")
    def read_configuration(self, request, queryset):
        if not command_allowed(request.user, "GetConfiguration", {}):
            raise PermissionDenied("you may not send GetConfiguration")
        commands = [command_issue(box=box, action="GetConfiguration", payload={}, requested_by=request.user,
                                  source="admin") for box in queryset]
        refused = [f"{c.box.serial}: {c.error_description}" for c in commands if c.state == CommandState.REJECTED]
        if len(refused) < len(commands):
            messages.success(request, f"GetConfiguration sent to {len(commands) - len(refused)} box(es); their "
                                      "answers appear in each box's configuration.")
        if refused:
            messages.error(request, "Not sent: " + "; ".join(refused))

    @admin.display(description="connectors")
    def connector_states(self, box):
        # Colours come from status.css (loaded by templates/admin/base_site.html), as on the status pages.
        return format_html_join(
            " ", '<span class="st st-{}">{}: {}</span>',
            ((c.status or "unknown", c.connector_id, c.status or "?") for c in box.connectors.all() if c.connector_id),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        box = self.get_object(request, object_id)
        if box is not None:
            # Each list is a LIMITed scan of an index on (box, newest first).
            extra_context = {
                **(extra_context or {}),
                "commands_offered": self.commands_offered(request, box),
                "recent_sessions": Transaction.objects.filter(box=box).select_related("connector")
                .order_by("-started_at")[:BOX_PAGE_ROWS],
                "recent_commands": Command.objects.filter(box=box).select_related("requested_by")
                .order_by("-id")[:BOX_PAGE_ROWS],
                "recent_alarms": Alarm.objects.filter(box=box).order_by("-id")[:BOX_PAGE_ROWS],
                "recent_journal": JournalEntry.objects.filter(box=box).order_by("-id")[: 2 * BOX_PAGE_ROWS],
            }
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(IdTag)
class IdTagAdmin(BigTableMixin, admin.ModelAdmin):
    list_display = ["id_tag", "status", "expiry", "parent", "note", "created"]
    list_filter = ["status", ("expiry", admin.EmptyFieldListFilter)]
    search_fields = ["id_tag", "note"]
    list_select_related = ["parent"]
    raw_id_fields = ["parent"]

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="chargers_idtag_import"),
        ] + super().get_urls()

    def import_view(self, request):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied("importing id tags needs the permissions to add and change them")
        errors = []
        if request.method == "POST" and request.FILES.get("file"):
            try:
                text = request.FILES["file"].read().decode("utf-8-sig")
            except UnicodeDecodeError:
                errors = ["the file is not UTF-8 text"]
            else:
                result = idtags_import(text=text)
                errors = result.errors or []
                if not errors:
                    messages.success(request, f"Imported id tags: {result.created} created, {result.updated} updated.")
                    return redirect("admin:chargers_idtag_changelist")
        return TemplateResponse(request, "admin/chargers/idtag/import.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "title": "Import id tags from CSV",
            "errors": errors, "columns": IDTAG_COLUMNS,
        })


@admin.register(JournalEntry)
class JournalEntryAdmin(BigTableMixin, admin.ModelAdmin):
    list_display = ["at", "box", "direction", "protocol", "action", "short_payload"]
    list_filter = ["direction", "protocol"]
    # Exact matches only: a LIKE over millions of frames would scan them all.
    search_fields = ["=box__serial", "=action"]
    list_select_related = ["box"]
    raw_id_fields = ["box"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="payload")
    def short_payload(self, entry):
        return format_html("<code>{}</code>", entry.payload[:160])


@admin.register(Alarm)
class AlarmAdmin(BigTableMixin, admin.ModelAdmin):
    list_display = ["raised", "box", "connector_id", "status", "error_code", "level", "code", "component",
                    "vendor_error_code", "notify_user", "notify_operations", "emailed", "expires", "cleared"]
    list_filter = [choices_filter("status", ChargePointStatus.values), choices_filter("level", AlarmLevel.values),
                   choices_filter("error_code", ChargePointErrorCode.values, "error code"),
                   "notify_operations", ("cleared", admin.EmptyFieldListFilter)]
    search_fields = ["=box__serial"]
    list_select_related = ["box"]
    raw_id_fields = ["box"]
    # Newest first by primary key: the model's "-raised" has no index of its own.
    ordering = ["-id"]


@admin.register(Reservation)
class ReservationAdmin(MirrorMixin, BigTableMixin, ExactSearchMixin, admin.ModelAdmin):
    list_display = ["id", "box", "connector_id", "id_tag", "parent_id_tag", "expiry_date", "state", "box_status",
                    "transaction_id", "created", "ended_at"]
    list_filter = [choices_filter("state", ReservationState.values)]
    search_numbers = ["pk", "transaction_id"]
    search_texts = ["box__serial", "id_tag"]
    list_select_related = ["box"]


@admin.register(LocalAuthList)
class LocalAuthListAdmin(MirrorMixin, BigTableMixin, ExactSearchMixin, admin.ModelAdmin):
    list_display = ["box", "version", "updated", "reported_version", "reported_at", "entries_link"]
    search_texts = ["box__serial"]
    list_select_related = ["box"]

    @admin.display(description="entries")
    def entries_link(self, auth_list):
        # A link, not a count: a list can hold tens of thousands of tags.
        url = reverse("admin:chargers_localauthlistentry_changelist") + f"?auth_list={auth_list.pk}"
        return format_html('<a href="{}">entries</a>', url)


@admin.register(LocalAuthListEntry)
class LocalAuthListEntryAdmin(MirrorMixin, BigTableMixin, ExactSearchMixin, admin.ModelAdmin):
    list_display = ["box_serial", "id_tag", "status", "expiry", "parent_id_tag"]
    list_filter = [choices_filter("status", AuthorizationStatus.values)]
    search_texts = ["id_tag", "auth_list__box__serial"]
    list_select_related = ["auth_list__box"]

    @admin.display(description="box", ordering="auth_list")
    def box_serial(self, entry):
        return entry.auth_list.box.serial
