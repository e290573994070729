"""Webhooks (issue 24): operators register HTTPS endpoints per event type; the events come from the
domain apps' signals (chargers, transactions, commands, firmware) and go out signed, one Celery task
per delivery, retried with back-off, each attempt logged (docs/adr/0024)."""
