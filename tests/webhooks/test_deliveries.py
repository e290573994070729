"""Deliveries with a real Celery worker and a real HTTP receiver: which failures are retried, the
back-off, the log, the admin's test event, and where endpoints may point."""

import io
import socket
import uuid

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from staff import PASSWORD
from webhooks.models import Delivery, Endpoint, EventType
from webhooks.services import deliveries_create, retry_delay

pytestmark = pytest.mark.django_db(transaction=True)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send_test(endpoint: Endpoint) -> Delivery:
    delivery, = deliveries_create(event_type=EventType.TEST, occurred=timezone.now().isoformat(),
                                  data={"message": "hello"}, endpoints=[endpoint])
    return delivery


def settled(delivery: Delivery, wait_for, timeout: float = 10) -> Delivery:
    wait_for(lambda: Delivery.objects.get(pk=delivery.pk).state != "pending", timeout)
    return Delivery.objects.get(pk=delivery.pk)


def test_refused_connections_are_retried_with_back_off_then_given_up(receiver, celery_worker, settings, wait_for):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    endpoint = Endpoint.objects.create(url=f"http://127.0.0.1:{closed_port()}/gone")
    delivery = settled(send_test(endpoint), wait_for)
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("failed", 3, None)
    assert delivery.error and delivery.delivered is None
    # Waits of 0.2 s, then 0.4 s (twice the first) between the three attempts.
    assert [retry_delay(n) for n in (1, 2)] == [0.2, 0.4]
    assert (delivery.last_attempt - delivery.created).total_seconds() >= 0.6


def test_a_500_then_200_is_delivered_on_the_second_attempt(receiver, celery_worker, wait_for):
    endpoint = Endpoint.objects.create(url=receiver.url)
    receiver.secret, receiver.refuse_once = endpoint.secret, {"test"}
    delivery = settled(send_test(endpoint), wait_for)
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("delivered", 2, 200)
    assert [r.answered for r in receiver.got] == [500, 200]
    assert receiver.got[0].event == receiver.got[1].event  # the same event id and body on the retry
    assert receiver.got[1].headers["X-Evchong-Event"] == "test"


def test_a_refusal_other_than_5xx_is_not_retried(receiver, celery_worker, wait_for):
    endpoint = Endpoint.objects.create(url=receiver.url, secret="not the receiver's secret at all")
    receiver.secret = "the receiver's own secret"
    delivery = settled(send_test(endpoint), wait_for)
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("failed", 1, 401)
    assert receiver.bad_signatures == 1


def test_admin_sends_a_test_event(receiver, celery_worker, operations_user, wait_for):
    endpoint = Endpoint.objects.create(url=receiver.url)
    receiver.secret = endpoint.secret
    client = Client()
    assert client.login(username=operations_user.username, password=PASSWORD)
    response = client.post("/admin/webhooks/endpoint/", {"action": "send_test_event", "_selected_action": [endpoint.pk]})
    assert response.status_code == 302
    event = receiver.wait_for("test")[0].event
    assert event["data"] == {"message": f"test event sent by {operations_user.username}"}
    delivery = Delivery.objects.get(event_id=event["id"])
    wait_for(lambda: Delivery.objects.get(pk=delivery.pk).state == "delivered")
    page = client.get("/admin/webhooks/delivery/").content.decode()
    assert "delivered" in page and str(delivery.pk) in page


def test_endpoints_must_be_https_outside_the_insecure_hosts(settings):
    settings.WEBHOOK_INSECURE_HOSTS = []
    out = io.StringIO()
    call_command("apitoken", "integrator", stdout=out)
    api = Client(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    refused = api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook"}, content_type="application/json")
    assert refused.status_code == 400 and refused.json() == {"url": ["an endpoint must be an https:// URL"]}
    bad_event = api.post("/api/v1/webhooks", {"url": "https://example.com/hook", "events": ["box.exploded"]},
                         content_type="application/json")
    assert bad_event.status_code == 400 and "events" in bad_event.json()
    made = api.post("/api/v1/webhooks", {"url": "https://example.com/hook", "events": ["session.stopped",
                                                                                     "box.offline"]},
                    content_type="application/json")
    assert made.status_code == 201 and made.json()["events"] == ["box.offline", "session.stopped"]
    listed = api.get("/api/v1/webhooks").json()["results"]
    assert [e["url"] for e in listed] == ["https://example.com/hook"] and "secret" not in listed[0]
    assert api.delete(f"/api/v1/webhooks/{made.json()['id']}").status_code == 204
    assert not Endpoint.objects.exists()


def test_field_engineers_may_not_register_endpoints(field_engineer):
    client = Client()
    assert client.login(username=field_engineer.username, password=PASSWORD)
    assert client.post("/api/v1/webhooks", {"url": "https://example.com/hook"},
                       content_type="application/json").status_code == 403


def test_the_log_keeps_finished_deliveries_for_the_days_set(settings):
    from datetime import timedelta

    from webhooks.services import deliveries_trim

    settings.WEBHOOK_LOG_DAYS = 30
    endpoint = Endpoint.objects.create(url="https://example.com/hook")
    old, young, waiting = (Delivery.objects.create(endpoint=endpoint, event_id=uuid.uuid4(), event_type="test", body="{}",
                                                   state=state) for state in ("delivered", "failed", "pending"))
    Delivery.objects.filter(pk__in=[old.pk, waiting.pk]).update(created=timezone.now() - timedelta(days=31))
    assert deliveries_trim() == 1
    assert set(Delivery.objects.values_list("pk", flat=True)) == {young.pk, waiting.pk}
