from django.contrib import admin

from firmware.models import FirmwareStatusEvent


@admin.register(FirmwareStatusEvent)
class FirmwareStatusEventAdmin(admin.ModelAdmin):
    list_display = ["received", "box", "status"]
    list_filter = ["status"]
    search_fields = ["box__serial"]
    raw_id_fields = ["box"]
