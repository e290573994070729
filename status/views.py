"""Status pages for field engineers and the operations dashboard: server-rendered pages whose live
part is a small fragment endpoint that static/status/live.js polls about once a second."""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import conditional_page

from chargers.choices import ChargePointStatus, Protocol
from chargers.models import ChargeBox, Connector
from chargers.presence import boxes_with_online
from firmware.downloads import diagnostics_file_response
from firmware.models import DiagnosticsUpload
from status import queries

VIEW_PERMISSION = "chargers.view_chargebox"
SEARCH_LIMIT = 100


def status_page(view):
    """Login required (to the login page), then the permission to view charge boxes."""

    @login_required(login_url="status:login")
    @functools.wraps(view)
    def checked(request, *args, **kwargs):
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied("you may not view charge boxes")
        return view(request, *args, **kwargs)

    return checked


def fragment(view):
    """A polled fragment answers 401 instead of redirecting to the login page (which the poller
    would paste into the page), and 304 when nothing changed since the last poll (ETag)."""

    @conditional_page
    @functools.wraps(view)
    def checked(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return HttpResponse("login required", status=401, content_type="text/plain")
        if not request.user.has_perm(VIEW_PERMISSION):
            raise PermissionDenied("you may not view charge boxes")
        response = view(request, *args, **kwargs)
        # no-cache, not no-store: the browser keeps the copy and revalidates it with its ETag.
        patch_cache_control(response, private=True, no_cache=True)
        return response

    return checked


STATE_FILTERS = {
    "online": lambda: queries.online_q(),
    "offline": lambda: ~queries.online_q(),
    "charging": lambda: Q(Exists(Connector.objects.filter(box=OuterRef("pk"), status=ChargePointStatus.CHARGING))),
    "faulted": lambda: Q(Exists(Connector.objects.filter(box=OuterRef("pk"), status=ChargePointStatus.FAULTED))),
}


@status_page
def box_search(request):
    q = request.GET.get("q", "").strip()
    state = request.GET.get("state", "")
    boxes = boxes_with_online(ChargeBox.objects.select_related("station").prefetch_related("connectors")
                              .order_by("serial"))
    if q:
        boxes = boxes.filter(Q(serial__icontains=q) | Q(station__code__icontains=q) | Q(station__name__icontains=q))
    if state in STATE_FILTERS:
        boxes = boxes.filter(STATE_FILTERS[state]())
    protocol = request.GET.get("protocol", "")
    if protocol in Protocol.values:
        boxes = boxes.filter(protocol=protocol)
    found = list(boxes[: SEARCH_LIMIT + 1])
    return render(request, "status/box_search.html", {
        "q": q, "state": state, "states": list(STATE_FILTERS), "boxes": found[:SEARCH_LIMIT],
        "protocol": protocol, "protocols": Protocol.choices,
        "more": len(found) > SEARCH_LIMIT, "limit": SEARCH_LIMIT,
    })


@status_page
def box_detail(request, serial):
    box = get_object_or_404(boxes_with_online(ChargeBox.objects.select_related("station")), serial=serial)
    return render(request, "status/box_detail.html", {"box": box, "status": queries.box_status(box),
                                                      "diagnostics": queries.box_diagnostics(box)})


@status_page
def box_diagnostics_file(request, serial, upload_id, name):
    """A diagnostics file the box uploaded, for the field engineer to download."""
    box = get_object_or_404(ChargeBox, serial=serial)
    upload = get_object_or_404(DiagnosticsUpload, pk=upload_id, box=box)
    return diagnostics_file_response(upload, name)


@fragment
def box_live(request, serial):
    box = get_object_or_404(boxes_with_online(ChargeBox.objects.select_related("station")), serial=serial)
    return render(request, "status/_box_live.html", {"box": box, "status": queries.box_status(box)})


@status_page
def dashboard(request):
    return render(request, "status/dashboard.html", {"dashboard": queries.dashboard()})


@fragment
def dashboard_live(request):
    return render(request, "status/_dashboard_live.html", {"dashboard": queries.dashboard()})
