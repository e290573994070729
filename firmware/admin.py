from datetime import timedelta

from django import forms
from django.contrib import admin

from django.conf import settings
from django.utils import timezone

from core.errors import DomainError
from firmware.models import (DiagnosticsStatusEvent, DiagnosticsUpload, FileTransfer, FirmwareImage,
                             FirmwareStatusEvent, FirmwareUpdate)
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


@admin.register(DiagnosticsUpload)
class DiagnosticsUploadAdmin(ExactSearchMixin, BigTableMixin, admin.ModelAdmin):
    """A place for one box's diagnostics: its URL is the location to give in GetDiagnostics."""

    list_display = ["id", "box", "created", "expires", "max_bytes"]
    search_texts = ["box__serial"]
    list_select_related = ["box"]
    raw_id_fields = ["box"]
    ordering = ["-id"]

    def get_fields(self, request, obj=None):
        return ["box", "max_bytes", "expires"] if obj is None else ["box", "url", "max_bytes", "created", "expires"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["box", "url", "created"]

    def get_changeform_initial_data(self, request):
        return {"max_bytes": settings.DIAGNOSTICS_MAX_BYTES,
                "expires": timezone.now() + timedelta(hours=settings.DIAGNOSTICS_UPLOAD_HOURS)}

    @admin.display(description="URL (GetDiagnostics location)")
    def url(self, upload: DiagnosticsUpload) -> str:
        return upload.url


@admin.register(FileTransfer)
class FileTransferAdmin(ExactSearchMixin, BigTableMixin, admin.ModelAdmin):
    """What the FTP server sent and received; written by the server only."""

    list_display = ["finished", "direction", "file_name", "bytes", "completed", "tls", "remote_address", "box",
                    "image"]
    list_filter = ["direction", "completed"]
    search_texts = ["username", "box__serial"]
    list_select_related = ["box", "image"]
    ordering = ["-id"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(FirmwareUpdate)
class FirmwareUpdateAdmin(ExactSearchMixin, BigTableMixin, admin.ModelAdmin):
    """Firmware updates as the boxes report them; started by an accepted UpdateFirmware command."""

    list_display = ["id", "box", "image", "state", "last_status_at", "confirmed_at", "created"]
    list_filter = ["last_status"]
    search_texts = ["box__serial"]
    list_select_related = ["box", "image"]
    ordering = ["-id"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["state"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
