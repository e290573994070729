import json

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


@pytest.mark.django_db
def test_readyz_answers_as_healthz(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert {"status": "ok", "database": "ok", "redis": "ok"}.items() <= response.json().items()


@pytest.mark.parametrize("dependency,env", [
    ("redis", {"REDIS_URL": "redis://127.0.0.1:9/0"}),
    ("database", {"DATABASE_URL": "postgres://postgres@127.0.0.1:9/evchong"}),
])
def test_healthz_and_readyz_name_the_dependency_that_is_down(start_daphne, dependency, env):
    import urllib.error
    import urllib.request

    url = start_daphne(**env)
    for path in ("/healthz", "/readyz"):
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(url + path, timeout=30)
        assert answer.value.code == 503
        body = json.loads(answer.value.read())
        assert body["status"] == "error"
        assert body[dependency].startswith("error"), body
