"""Diagnostics files handed to people (the admin, the status pages): one checked way to open them."""

from __future__ import annotations

import posixpath

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404

from firmware.models import DiagnosticsUpload


def diagnostics_file_response(upload: DiagnosticsUpload, name: str) -> FileResponse:
    """``name`` of ``upload``'s files as an attachment; 404 for any other name (a path included)."""
    if posixpath.basename(name) != name or name not in upload.file_names():
        raise Http404("no such diagnostics file")
    return FileResponse(default_storage.open(f"{upload.directory}/{name}", "rb"), as_attachment=True,
                        filename=name, content_type="application/octet-stream")
