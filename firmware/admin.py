from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from django.conf import settings
from django.utils import timezone

from chargers.models import Station
from core.errors import DomainError
from firmware.campaigns import (campaign_cancel, campaign_create, campaign_outcome_csv, campaign_pause,
                                campaign_progress, campaign_resume, campaign_retry_failed, campaign_selection)
from firmware.downloads import diagnostics_file_response
from firmware.models import (CampaignTarget, DiagnosticsStatusEvent, DiagnosticsUpload, FileTransfer, FirmwareCampaign,
                             FirmwareImage, FirmwareStatusEvent, FirmwareUpdate)
from firmware.services import file_digests, firmware_image_check, firmware_image_verify
from operations.admin_mixins import BigTableMixin, ExactSearchMixin, RecordMixin


@admin.register(DiagnosticsStatusEvent)
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


class FlaggedFilter(admin.SimpleListFilter):
    title = "flagged"
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", "with a problem"), ("no", "without")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(problem="")
        if self.value() == "no":
            return queryset.filter(problem="")
        return queryset


@admin.register(FirmwareStatusEvent)
class FirmwareStatusEventAdmin(StatusEventAdmin):
    """A status for no update of ours is kept and flagged (``problem``)."""

    list_display = ["received", "box", "status", "problem"]
    list_filter = ["status", FlaggedFilter]


@admin.register(FirmwareImage)
class FirmwareImageAdmin(admin.ModelAdmin):
    form = FirmwareImageForm
    list_display = ["id", "version", "vendor", "model", "size", "created", "problem"]
    list_filter = ["vendor", "model", FlaggedFilter]
    search_fields = ["version"]
    checksums = ["url", "size", "md5", "sha256", "created", "verified_at", "problem"]
    actions = ["verify"]

    @admin.action(description="Read the files again and compare their checksums")
    def verify(self, request, queryset):
        for image in queryset:
            problem = firmware_image_verify(image)
            if problem:
                self.message_user(request, f"{image}: {problem}", messages.ERROR)
            else:
                self.message_user(request, f"{image}: the file is what was uploaded")

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
        return ["box", "max_bytes", "expires"] if obj is None else [
            "box", "url", "max_bytes", "created", "expires", "last_status", "last_status_at", "files"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["box", "url", "created", "last_status", "last_status_at", "files"]

    def get_urls(self):
        return [path("<path:object_id>/file/<str:name>", self.admin_site.admin_view(self.file_view),
                     name="firmware_diagnosticsupload_file")] + super().get_urls()

    def file_view(self, request, object_id, name):
        upload = self.get_object(request, unquote(object_id))
        if upload is None:
            raise Http404("no such diagnostics upload")
        if not self.has_view_permission(request, upload):
            raise PermissionDenied
        return diagnostics_file_response(upload, name)

    @admin.display(description="files the box uploaded")
    def files(self, upload: DiagnosticsUpload):
        names = upload.file_names()
        if not names:
            return "none yet"
        return format_html_join(", ", '<a href="{}">{}</a>', (
            (reverse("admin:firmware_diagnosticsupload_file", args=[upload.pk, name]), name) for name in names))

    def get_changeform_initial_data(self, request):
        return {"max_bytes": settings.DIAGNOSTICS_MAX_BYTES,
                "expires": timezone.now() + timedelta(hours=settings.DIAGNOSTICS_UPLOAD_HOURS)}

    @admin.display(description="URL (GetDiagnostics location)")
    def url(self, upload: DiagnosticsUpload) -> str:
        return upload.url


@admin.register(FileTransfer)
class FileTransferAdmin(RecordMixin, ExactSearchMixin, BigTableMixin, admin.ModelAdmin):
    """What the FTP server sent and received; written by the server only."""

    list_display = ["finished", "direction", "file_name", "bytes", "completed", "tls", "remote_address", "box",
                    "image"]
    list_filter = ["direction", "completed"]
    search_texts = ["username", "box__serial"]
    list_select_related = ["box", "image"]
    ordering = ["-id"]


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


class CampaignForm(forms.ModelForm):
    """The boxes are chosen once, here: every criterion given must hold; serials name boxes outright."""

    station = forms.ModelChoiceField(Station.objects.all(), required=False)
    vendor = forms.CharField(max_length=50, required=False)
    model = forms.CharField(max_length=50, required=False)
    from_version = forms.CharField(max_length=50, required=False, label="current firmware version")
    serials = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                              help_text="explicit boxes, one serial a line (with the criteria above: both must hold)")

    class Meta:
        model = FirmwareCampaign
        fields = ["name", "image", "max_concurrent", "window_start", "window_end"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        self.selection = dict(
            max_concurrent=cleaned["max_concurrent"], window_start=cleaned.get("window_start"),
            window_end=cleaned.get("window_end"), station=cleaned.get("station"), vendor=cleaned.get("vendor", ""),
            model=cleaned.get("model", ""), from_version=cleaned.get("from_version", ""),
            serials=cleaned.get("serials", "").split())
        try:
            campaign_selection(**self.selection)  # every refusal on the form, before anything is saved
        except DomainError as refusal:
            self.add_error(refusal.field, refusal.message)
        return cleaned


@admin.register(FirmwareCampaign)
class FirmwareCampaignAdmin(admin.ModelAdmin):
    """Campaigns: created here, driven by the beat (commands.campaigns); the change page shows the
    progress, polled, and the operator's verbs."""

    form = CampaignForm
    list_display = ["id", "name", "image", "state", "progress", "max_concurrent", "window", "created"]
    list_filter = ["state"]
    search_fields = ["name"]
    actions = ["pause", "resume", "cancel", "retry_failed"]
    readonly = ["name", "image", "state", "problem", "max_concurrent", "window_start", "window_end", "selection",
                "created_by", "created", "boxes"]
    verbs = {"pause": campaign_pause, "resume": campaign_resume, "cancel": campaign_cancel,
             "retry": campaign_retry_failed}

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "image", "max_concurrent", "window_start", "window_end", "station", "vendor", "model",
                    "from_version", "serials"]
        return self.readonly

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly

    def has_change_permission(self, request, obj=None):
        # The change page shows the campaign and its verbs; nothing in it is edited.
        return super().has_change_permission(request, obj) if obj is None else False

    def save_model(self, request, obj, form, change):
        # The one way a campaign is made (its boxes chosen with it); the admin goes on with its row.
        campaign = campaign_create(name=obj.name, image=obj.image, created_by=request.user, **form.selection)
        obj.__dict__.update({f.attname: getattr(campaign, f.attname) for f in campaign._meta.concrete_fields})

    @admin.display(description="window (local time)")
    def window(self, campaign):
        if campaign.window_start is None:
            return "any time"
        return f"{campaign.window_start:%H:%M}-{campaign.window_end:%H:%M}"

    @admin.display(description="finished")
    def progress(self, campaign):
        return f"{campaign_progress(campaign)['percent']} %"

    @admin.display(description="boxes")
    def boxes(self, campaign):
        url = reverse("admin:firmware_campaigntarget_changelist") + f"?campaign__id__exact={campaign.pk}"
        return format_html('<a href="{}">each box\'s outcome</a>', url)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/progress.json", view(self.progress_view), name="firmware_firmwarecampaign_progress"),
            path("<path:object_id>/outcome.csv", view(self.csv_view), name="firmware_firmwarecampaign_csv"),
            path("<path:object_id>/do/<str:verb>", view(self.verb_view), name="firmware_firmwarecampaign_verb"),
        ] + super().get_urls()

    def _campaign(self, request, object_id) -> FirmwareCampaign:
        campaign = self.get_object(request, unquote(object_id))
        if campaign is None:
            raise Http404("no such campaign")
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        return campaign

    def progress_view(self, request, object_id):
        return JsonResponse(campaign_progress(self._campaign(request, object_id)))

    def csv_view(self, request, object_id):
        campaign = self._campaign(request, object_id)
        response = HttpResponse(campaign_outcome_csv(campaign), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.csv"'
        return response

    def verb_view(self, request, object_id, verb):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        campaign = self._campaign(request, object_id)
        if verb not in self.verbs:
            raise Http404("no such verb")
        if not super().has_change_permission(request, campaign):
            raise PermissionDenied
        self._apply(request, verb, campaign)
        return HttpResponseRedirect(reverse("admin:firmware_firmwarecampaign_change", args=[campaign.pk]))

    def _apply(self, request, verb, campaign):
        try:
            result = self.verbs[verb](campaign)
        except DomainError as refusal:
            self.message_user(request, f"{campaign.name}: {refusal.message}", messages.ERROR)
            return
        counted = f" ({result} boxes)" if isinstance(result, int) else ""
        self.message_user(request, f"{campaign.name}: {verb} done{counted}")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"verbs": [v for v in self.verbs], **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    @admin.action(description="Pause (no new box starts)", permissions=["change"])
    def pause(self, request, queryset):
        for campaign in queryset:
            self._apply(request, "pause", campaign)

    @admin.action(description="Resume", permissions=["change"])
    def resume(self, request, queryset):
        for campaign in queryset:
            self._apply(request, "resume", campaign)

    @admin.action(description="Cancel (boxes not started are left out)", permissions=["change"])
    def cancel(self, request, queryset):
        for campaign in queryset:
            self._apply(request, "cancel", campaign)

    @admin.action(description="Retry the failed boxes", permissions=["change"])
    def retry_failed(self, request, queryset):
        for campaign in queryset:
            self._apply(request, "retry", campaign)



@admin.register(CampaignTarget)
class CampaignTargetAdmin(RecordMixin, ExactSearchMixin, BigTableMixin, admin.ModelAdmin):
    """Each box of each campaign: where it stopped and what it said."""

    list_display = ["box", "campaign", "state", "step", "words", "attempts", "changed"]
    list_filter = ["state", "step"]
    search_texts = ["box__serial"]
    list_select_related = ["box", "campaign"]
    ordering = ["id"]
