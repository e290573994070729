"""SetTariff to Kotodian boxes (issue 22 scope 5): the domain's tariff in Kotodian units (0.1 fen per
kWh, minutes of the day, a period across midnight as two segments), sent through the command path:
asked for through the operations API, pushed when a box boots and when the tariff that applies to it
changes (tariffs.signals.tariff_changed)."""

import io
import queue

from django.core.management import call_command
from kotodian_commands import booted_box, command

from chargers.models import Station
from commands.models import Command
from kotodian.proto import charger_pb2 as pb
from tariffs.models import Tariff

ACCEPT = {pb.ID_SetTariffReq: pb.SetTariffConf(status=0)}


def addtariff(*args) -> None:
    call_command("addtariff", *args, stdout=io.StringIO())


def segments(request) -> list[tuple]:
    return [(t.timestart, t.timeend, t.elecprice, t.serviceprice, t.occupyprice) for t in request.chargetariffs]


def next_set_tariff(box, timeout=10):
    while True:
        request = box.requests.get(timeout=timeout)
        if request.message_id == pb.ID_SetTariffReq:
            return request.message


def test_set_tariff_through_the_operations_api_in_kotodian_units(fast_server, api_token, celery_worker, kotodian_box,
                                                                 make_box, serial):
    box = booted_box(kotodian_box, make_box, serial, ACCEPT)
    addtariff("TOU-K", "--period", "22:00-06:00=0.3+0.4", "--period", "06:00-22:00=0.8125+0.4",
              "--idle-fee", "3")
    code, body = command(fast_server, api_token, serial, "SetTariff", {"tariff": "TOU-K", "test": True})
    assert body["state"] == "accepted", body
    request = next_set_tariff(box)
    assert (request.tariffid, request.description, request.test) == (Tariff.objects.get(code="TOU-K").pk, "TOU-K",
                                                                     True)
    # 1 CNY is 1000 tenths of a fen; 0.8125 rounds half up to 813.
    assert segments(request) == [(0, 360, 300, 400, 3000), (360, 1320, 813, 400, 3000), (1320, 1440, 300, 400, 3000)]


def test_a_box_is_sent_its_tariff_when_it_boots(fast_server, celery_worker, kotodian_box, make_box, serial, wait_for):
    Station.objects.create(code="ST-BOOT")
    addtariff("ST-TARIFF", "--period", "00:00-00:00=1.2+0.6", "--station", "ST-BOOT")
    box = booted_box(kotodian_box, make_box, serial, ACCEPT, station="ST-BOOT")
    request = next_set_tariff(box)
    assert segments(request) == [(0, 1440, 1200, 600, 0)]
    wait_for(lambda: Command.objects.filter(box__serial=serial, action="SetTariff", source="tariff-push",
                                            state="accepted").exists())
    assert Command.objects.filter(box__serial=serial).count() == 1  # at the boot, not at the registration


def test_no_tariff_no_push_and_the_api_says_so(fast_server, api_token, celery_worker, kotodian_box, make_box, serial):
    box = booted_box(kotodian_box, make_box, serial, ACCEPT)
    code, body = command(fast_server, api_token, serial, "SetTariff", {})
    # Valid as a payload; at delivery no tariff applies: failed, saying why, nothing sent.
    assert (body["state"], body["error"]["description"]) == ("failed", "no tariff applies to this charge box"), body
    assert Command.objects.filter(box__serial=serial).count() == 1  # no push at boot either
    assert box.requests.empty()


def test_a_changed_tariff_is_pushed_to_the_boxes_it_applies_to(fast_server, celery_worker, kotodian_box, make_box,
                                                               serial):
    at_station = booted_box(kotodian_box, make_box, serial, ACCEPT, station="ST-CHG")
    no_station = booted_box(kotodian_box, make_box, f"{serial}-B", ACCEPT)
    addtariff("CHG", "--period", "00:00-00:00=1+0.5", "--station", "ST-CHG")
    assert segments(next_set_tariff(at_station)) == [(0, 1440, 1000, 500, 0)]
    addtariff("CHG", "--period", "00:00-12:00=1+0.5", "--period", "12:00-00:00=2+0.5", "--station", "ST-CHG")
    assert segments(next_set_tariff(at_station)) == [(0, 720, 1000, 500, 0), (720, 1440, 2000, 500, 0)]
    # A new default reaches the box of no station; the station's own tariff still applies to the other.
    addtariff("DEFAULT", "--period", "00:00-00:00=0.5+0.5", "--default")
    assert segments(next_set_tariff(no_station)) == [(0, 1440, 500, 500, 0)]
    try:
        at_station.requests.get(timeout=2)
        raise AssertionError("the box whose station has a tariff of its own was sent the default")
    except queue.Empty:
        pass


def test_bad_set_tariff_payloads_are_400(fast_server, api_token, kotodian_box, make_box, serial):
    booted_box(kotodian_box, make_box, serial, {})
    for payload, said in (({"tariff": "NOPE"}, "no tariff 'NOPE'"), ({"test": "yes"}, "test"),
                          ({"tariff": 5}, "tariff"), ({"prices": []}, "prices")):
        code, body = command(fast_server, api_token, serial, "SetTariff", payload)
        assert code == 400 and said in body["payload"][0], (payload, body)
    assert not Command.objects.filter(box__serial=serial).exists()


def test_a_silent_box_does_not_hold_its_boot_back(fast_server, celery_worker, kotodian_box, make_box, serial,
                                                  wait_for):
    addtariff("QUIET", "--period", "00:00-00:00=1+0.5", "--default")
    box = booted_box(kotodian_box, make_box, serial, {})
    assert next_set_tariff(box).tariffid == Tariff.objects.get(code="QUIET").pk
    wait_for(lambda: Command.objects.get(box__serial=serial, action="SetTariff").state == "timed_out", timeout=15)
    assert box.call("C", pb.ID_HeartbeatReq, pb.HeartbeatReq()).message_id == pb.ID_HeartbeatConf
