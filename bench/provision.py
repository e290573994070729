"""Boxes, id tags and an API token for the bench, in bulk (``manage.py addbox`` one by one would
take minutes for 10,000 boxes); ``--reset`` empties what scenarios leave behind.

Runs under Django: ``DJANGO_SETTINGS_MODULE=evchong.settings python -m bench.provision ...``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from chargers.models import Alarm, ChargeBox, Connector, IdTag, JournalEntry  # noqa: E402
from commands.models import Command  # noqa: E402
from simulator.scenarios import Options  # noqa: E402
from transactions.models import MeterValue, Transaction  # noqa: E402


@transaction.atomic
def provision(*, boxes: int, connectors: int, prefix: str, tag_prefix: str, password: str = "") -> None:
    identities = Options(scenario="", boxes=boxes, prefix=prefix, tag_prefix=tag_prefix).identities()
    ChargeBox.objects.bulk_create(
        [ChargeBox(serial=serial, vendor="EVCHONG", model="Simulator") for _, serial, _ in identities],
        ignore_conflicts=True, batch_size=2000,
    )
    ids = dict(ChargeBox.objects.filter(serial__startswith=prefix).values_list("serial", "pk"))
    # Connector 0 is the box itself (OCPP 1.6 §4.9), as addbox creates it.
    Connector.objects.bulk_create(
        [Connector(box_id=ids[serial], connector_id=c) for _, serial, _ in identities for c in range(connectors + 1)],
        ignore_conflicts=True, batch_size=5000,
    )
    IdTag.objects.bulk_create([IdTag(id_tag=tag) for _, _, tag in identities], ignore_conflicts=True, batch_size=5000)
    if password:
        set_passwords(list(ChargeBox.objects.filter(pk__in=ids.values())), password)


def set_passwords(boxes: list[ChargeBox], password: str) -> None:
    """One password for all, each box's hash with a salt of its own, as the admin would store them:
    each costs a PBKDF2 (about 0.3 s), in threads, since hashlib lets go of the interpreter lock."""
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        list(pool.map(lambda box: box.set_password(password), boxes))
    ChargeBox.objects.bulk_update(boxes, ["password_hash", "credential_verifier"], batch_size=2000)


def reset() -> None:
    """Sessions, meter values, commands, journal and alarms go, with what refers to them (a session's
    cost, a firmware update's command); boxes, tags, tariffs and tokens stay."""
    tables = [m._meta.db_table for m in (MeterValue, Command, Transaction, JournalEntry, Alarm)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    Connector.objects.update(status="", error_code="")
    ChargeBox.objects.update(connected_node="")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--boxes", type=int, default=0)
    parser.add_argument("--connectors", type=int, default=2)
    parser.add_argument("--prefix", default="SIM")
    parser.add_argument("--tag-prefix", default="SIMTAG")
    parser.add_argument("--password", default="", help="HTTP Basic password of the boxes provisioned")
    parser.add_argument("--api-user", help="print a reverse-API token for this user")
    parser.add_argument("--reset", action="store_true")
    args = parser.parse_args()
    if args.reset:
        reset()
    if args.boxes:
        provision(boxes=args.boxes, connectors=args.connectors, prefix=args.prefix, tag_prefix=args.tag_prefix,
                  password=args.password)
    if args.api_user:
        out = io.StringIO()
        call_command("apitoken", args.api_user, stdout=out)
        print(out.getvalue().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
