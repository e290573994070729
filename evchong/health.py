from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from chargers.models import ChargeBox
from core.stack import supervisor_state
from kotodian.liveness import bridges_connected
from transactions.models import Transaction


def healthz(request):
    """Liveness and readiness: the database and Redis answer; and whether the MQTT edge is up."""
    from django.core.cache import cache

    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # reported, not raised: this page exists to say what is wrong
        checks["database"] = f"error: {exc}"
    try:
        cache.set("healthz", "1", 5)
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {exc}"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks, "mqtt": mqtt_edge()},
                        status=200 if healthy else 503)


def readyz(request):
    """Readiness for a load balancer: the same checks, named for what Kubernetes and HAProxy ask;
    503 with the dependency that is down until the database and Redis both answer."""
    return healthz(request)


def mqtt_edge() -> str:
    """The Kotodian edge, reported but never failing the check: OCPP and EVCHONG boxes are served
    whatever the broker does, so a load balancer must not take this server out for it."""
    try:
        bridges = bridges_connected()
    except Exception as exc:
        return f"degraded: {exc}"
    return "ok" if bridges else "degraded: no Kotodian bridge connected to the broker"


def metrics(request):
    """Prometheus text format; gauges are read from the database at scrape time."""
    registry = CollectorRegistry()
    boxes = Gauge("evchong_charge_boxes", "Registered charge boxes", registry=registry)
    seen = Gauge("evchong_charge_boxes_seen_5m", "Charge boxes heard from in the last 5 minutes", registry=registry)
    active = Gauge("evchong_active_transactions", "Charging sessions in progress", registry=registry)
    boxes.set(ChargeBox.objects.count())
    seen.set(ChargeBox.objects.filter(last_seen__gte=timezone.now() - timezone.timedelta(minutes=5)).count())
    active.set(Transaction.objects.filter(stopped_at__isnull=True).count())
    restarts = Gauge("evchong_process_restarts", "Times make run's supervisor started a process again",
                     ["process"], registry=registry)
    for process, state in supervisor_state().items():
        restarts.labels(process=process).set(state.get("restarts", 0))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
