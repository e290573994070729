from django.contrib import admin

from firmware.models import DiagnosticsStatusEvent, FirmwareStatusEvent


@admin.register(FirmwareStatusEvent, DiagnosticsStatusEvent)
class StatusEventAdmin(admin.ModelAdmin):
    list_display = ["received", "box", "status"]
    list_filter = ["status"]
    search_fields = ["box__serial"]
    raw_id_fields = ["box"]
