from django import forms
from django.contrib import admin

from core.errors import DomainError
from firmware.models import DiagnosticsStatusEvent, FirmwareImage, FirmwareStatusEvent
from firmware.services import file_digests, firmware_image_check
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


class FirmwareImageForm(forms.ModelForm):
    class Meta:
        model = FirmwareImage
        fields = ["file", "version", "vendor", "model"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("file") and cleaned.get("version") is not None:
            try:
                firmware_image_check(file=cleaned["file"], version=cleaned["version"],
                                     vendor=cleaned.get("vendor", ""), model=cleaned.get("model", ""))
            except DomainError as refusal:
                self.add_error(refusal.field, refusal.message)
        return cleaned


@admin.register(FirmwareImage)
class FirmwareImageAdmin(admin.ModelAdmin):
    form = FirmwareImageForm
    list_display = ["id", "version", "vendor", "model", "size", "created"]
    list_filter = ["vendor", "model"]
    search_fields = ["version"]
    checksums = ["url", "size", "md5", "sha256", "created"]

    def get_fields(self, request, obj=None):
        return ["file", "version", "vendor", "model"] if obj is None else ["version", "vendor", "model", *self.checksums]

    def get_readonly_fields(self, request, obj=None):
        # The file stays what its checksums and the URLs handed out say: a new image is a new row.
        return [] if obj is None else self.checksums

    @admin.display(description="URL (FTP, or FTPS at the same address)")
    def url(self, image: FirmwareImage) -> str:
        return image.url

    def save_model(self, request, obj, form, change):
        if not change:
            obj.size, obj.md5, obj.sha256 = file_digests(form.cleaned_data["file"])
        super().save_model(request, obj, form, change)
