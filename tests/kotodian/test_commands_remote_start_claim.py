"""The remote-start claim and the connector's row lock hold for Kotodian boxes as for OCPP boxes
(EVCHONG 1 g): of 10 concurrent remote starts on one connector through the reverse API, the box is
sent one, and exactly one is Accepted; the others are refused, saying why."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

from kotodian_commands import booted_box

from commands.models import Command
from kotodian.proto import charger_pb2 as pb


def remote_start(server, token, serial, tag):
    request = urllib.request.Request(
        f"{server}/evchong-api/reverse/v1/RemoteStartTransaction", method="POST",
        data=json.dumps({"chargeBoxSerialNumber": serial, "connectorId": 1, "idTag": tag}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def test_ten_concurrent_remote_starts_one_accepted(fast_server, api_token, celery_worker, kotodian_box, make_box,
                                                   make_tag, serial):
    for n in range(10):
        make_tag(f"CARD-{n}")
    box = booted_box(kotodian_box, make_box, serial,
                     {pb.ID_RemoteStartTransactionReq: pb.RemoteStartTransactionConf(status=0)})
    barrier = Barrier(10)

    def one(n):
        barrier.wait()
        return remote_start(fast_server, api_token, serial, f"CARD-{n}")

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(one, range(10)))
    statuses = [answer["status"] for answer in answers]
    assert statuses.count("Accepted") == 1 and statuses.count("Rejected") == 9, answers
    assert Command.objects.filter(box__serial=serial, state="accepted").count() == 1
    refused = Command.objects.filter(box__serial=serial, state="rejected")
    assert {c.error_description for c in refused} == {"another remote start is pending on this connector"}
    # The box was sent exactly one request.
    assert box.requests.get(timeout=5).message_id == pb.ID_RemoteStartTransactionReq
    assert box.requests.empty()
