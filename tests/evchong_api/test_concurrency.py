"""20 concurrent startTrans for one connector, through a real daphne and PostgreSQL, leave exactly
one active transaction (row lock on the connector + a partial unique index)."""

import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from transactions.models import Transaction

T0 = 1425289031076


def post(url, body):
    request = urllib.request.Request(url, data=("data=" + json.dumps(body)).encode(),
                                     headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def fire(url, bodies):
    barrier = threading.Barrier(len(bodies))

    def one(body):
        barrier.wait()
        return post(url, body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


@pytest.fixture
def start_url(live_server_url, transactional_db, make_box, make_tag):
    make_box("BUSY", connectors=1)
    for n in range(20):
        make_tag(f"TAG{n}")
    return live_server_url + "/evchong-api/cperent/v1/startTrans"


def body(n, same=False):
    return {"chargeBoxSerialNumber": "BUSY", "connectorId": 1, "idTag": "TAG0" if same else f"TAG{n}",
            "meterStart": 0, "timestamp": T0 if same else T0 + n}


def test_twenty_different_starts_leave_one_active(start_url):
    answers = fire(start_url, [body(n) for n in range(20)])
    assert all(status == 200 for status, _ in answers)
    assert len({a["transactionId"] for _, a in answers}) == 20
    assert Transaction.objects.filter(stopped_at__isnull=True).count() == 1
    # The survivor is the latest start: the box cannot run the earlier ones any more.
    assert Transaction.objects.get(stopped_at__isnull=True).id_tag == "TAG19"


def test_twenty_replays_of_one_start_get_one_id(start_url):
    answers = fire(start_url, [body(0, same=True) for _ in range(20)])
    assert {a["transactionId"] for _, a in answers} == {Transaction.objects.get().id}
    assert Transaction.objects.filter(stopped_at__isnull=True).count() == 1
