import pytest


@pytest.mark.django_db
def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    # The MQTT edge is reported beside (tests/kotodian/test_bridge_health.py) and never fails the check.
    assert body.pop("mqtt") in ("ok", "degraded: no Kotodian bridge connected to the broker")
    assert body == {"status": "ok", "database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_metrics_in_prometheus_text_format(client, make_box):
    make_box("CB")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "evchong_charge_boxes 1.0" in response.content.decode()
