from celery import shared_task
from django.conf import settings

from webhooks.events import event_data
from webhooks.services import (deliveries_create, deliveries_trim as trim, delivery_claim, delivery_post,
                               delivery_record, retry_delay)


@shared_task
def event_fan_out(event_type: str, data: dict | None, ref: dict | None, occurred: str) -> int:
    """One delivery per endpoint that wants the event; rendered here, after the domain's commit, so
    that the boxes' hot path only queued it. Returns how many."""
    data = data if data is not None else event_data(event_type, ref or {})
    if data is None:  # the row is gone (a box deleted meanwhile): nothing left to tell
        return 0
    return len(deliveries_create(event_type=event_type, occurred=occurred, data=data))


@shared_task(bind=True, max_retries=None)
def delivery_attempt(self, delivery_id: int) -> None:
    """One attempt; a failure the receiver may recover from (5xx, timeout, refused connection) is
    tried again after an exponential back-off, up to WEBHOOK_MAX_ATTEMPTS attempts."""
    delivery = delivery_claim(delivery_id)
    if delivery is None:
        return
    attempt = delivery_post(delivery)
    final = attempt.delivered or not attempt.retry or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    delivery_record(delivery_id=delivery_id, attempt=attempt, final=final)
    if not final:
        raise self.retry(countdown=retry_delay(delivery.attempts))


@shared_task
def deliveries_trim() -> int:
    """The delivery log keeps WEBHOOK_LOG_DAYS of finished deliveries."""
    return trim()
