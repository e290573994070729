from django.db import models


class FirmwareStatus(models.TextChoices):
    """OCPP 1.6 §7.25 (EVCHONG 4.14 is a subset)."""

    DOWNLOADED = "Downloaded"
    DOWNLOAD_FAILED = "DownloadFailed"
    DOWNLOADING = "Downloading"
    IDLE = "Idle"
    INSTALLATION_FAILED = "InstallationFailed"
    INSTALLING = "Installing"
    INSTALLED = "Installed"


class DiagnosticsStatus(models.TextChoices):
    """OCPP 1.6 §7.24."""

    IDLE = "Idle"
    UPLOADED = "Uploaded"
    UPLOAD_FAILED = "UploadFailed"
    UPLOADING = "Uploading"
