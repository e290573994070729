from django.contrib import admin

from firmware.models import DiagnosticsStatusEvent, FirmwareStatusEvent
from operations.admin_mixins import BigTableMixin, ExactSearchMixin


@admin.register(FirmwareStatusEvent, DiagnosticsStatusEvent)
class StatusEventAdmin(ExactSearchMixin, BigTableMixin, admin.ModelAdmin):
    list_display = ["received", "box", "status"]
    list_filter = ["status"]
    search_texts = ["box__serial"]
    list_select_related = ["box"]
    raw_id_fields = ["box"]
    # Newest first by primary key: "-received" has an index only together with the box.
    ordering = ["-id"]
