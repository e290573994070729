"""Tariffs and Kotodian boxes over the real broker (kotodian-apdu 2.10, DESIGN 3): the tariff pulls
(SetTariffReq sent empty, SetPriceSchemeReq) answered from the tariff the domain bills the box by,
in 0.1 fen per kWh; priceScheme in AuthorizeConf; the box's own Cost kept as boxReported and a
disagreement of more than 0.01 flagged on the session."""

import io
import queue

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from chargers.models import JournalEntry
from kotodian.proto import charger_pb2 as pb
from tariffs.admin import session_cost_html
from tariffs.models import BOX_COST_DIFFERS, SessionCost, Tariff

START = 1_780_000_000


def addtariff(*args):
    call_command("addtariff", *args, stdout=io.StringIO())


@pytest.fixture
def tou(transactional_db):
    """A default time-of-use tariff in CNY with a wrapped night period and an idle fee."""
    addtariff("TOU-KT", "--default", "--period", "22:00-06:00=0.3+0.4", "--period", "06:00-18:00=0.85+0.4",
              "--period", "18:00-22:00=1.2345+0.5", "--idle-fee", "2", "--idle-grace", "30")
    return Tariff.objects.get(code="TOU-KT")


@pytest.fixture
def flat(transactional_db):
    addtariff("FLAT-KT", "--default", "--period", "00:00-00:00=1.0+0.5")
    return Tariff.objects.get(code="FLAT-KT")


@pytest.fixture
def read_api(backend_token):
    client = Client(HTTP_AUTHORIZATION=f"Token {backend_token}")
    return lambda path: client.get(path).json()


def test_an_empty_set_tariff_is_answered_and_followed_by_the_boxs_tariff(booted, tou, wait_for):
    row, box = booted
    answer = box.call("C", pb.ID_SetTariffReq, pb.SetTariffReq())
    assert answer.message_id == pb.ID_SetTariffConf and answer.message.status == 0
    pushed = box.requests.get(timeout=10)
    assert pushed.message_id == pb.ID_SetTariffReq
    tariff = pushed.message
    assert tariff.tariffid == tou.pk
    segments = [(c.timestart, c.timeend, c.tag, c.elecprice, c.serviceprice, c.occupyprice)
                for c in tariff.chargetariffs]
    assert segments == [
        (0, 360, "22:00-06:00", 300, 400, 2000),  # the night period wraps midnight: two segments
        (360, 1080, "06:00-18:00", 850, 400, 2000),
        (1080, 1320, "18:00-22:00", 1235, 500, 2000),  # 1.2345 CNY is 1234.5 tenths of a fen: half up
        (1320, 1440, "22:00-06:00", 300, 400, 2000),
    ]
    assert [(p.timestart, p.price) for p in tariff.parkingtariffs] == [(30, 2000)]
    # What was pushed is in the box's journal, decoded, as any frame sent.
    sent = JournalEntry.objects.filter(box=row, direction="out", action="SetTariff", payload__contains="chargetariffs")
    wait_for(sent.exists)


def test_the_price_scheme_names_the_segments_of_the_same_tariff(booted, tou):
    row, box = booted
    answer = box.call("C", pb.ID_SetPriceSchemeReq, pb.SetPriceSchemeReq())
    assert answer.message_id == pb.ID_SetPriceSchemeConf
    assert answer.message.tariffId == tou.pk
    assert [(c.timeStart, c.tag) for c in answer.message.chargeTariffs] == [(0, 0), (360, 1), (1080, 2), (1320, 3)]


def test_authorize_carries_the_price_scheme(booted, tou, make_tag):
    make_tag("CARD-T")
    row, box = booted
    answer = box.call("C", pb.ID_AuthorizeReq, pb.AuthorizeReq(IdData=pb.IdToken(id="CARD-T")))
    assert answer.message.idInfo.status == pb.AS_Accepted
    assert answer.message.priceScheme.tariffid == tou.pk and len(answer.message.priceScheme.chargetariffs) == 4


def test_without_a_tariff_the_pulls_are_refused_and_authorize_has_none(booted, make_tag):
    make_tag("CARD-T")
    row, box = booted
    answer = box.call("C", pb.ID_SetTariffReq, pb.SetTariffReq())
    assert answer.message_id == pb.ID_SetTariffConf and answer.message.status != 0
    with pytest.raises(queue.Empty):
        box.requests.get(timeout=1.5)
    scheme = box.call("C", pb.ID_SetPriceSchemeReq, pb.SetPriceSchemeReq())
    assert scheme.message_id == pb.ID_MessageError and scheme.message.error == pb.EC_GenericError
    assert "no tariff" in scheme.message.Description
    authorized = box.call("C", pb.ID_AuthorizeReq, pb.AuthorizeReq(IdData=pb.IdToken(id="CARD-T")))
    assert not authorized.message.HasField("priceScheme")


def test_a_tariff_in_another_currency_is_not_told_to_a_box(booted, transactional_db):
    addtariff("USD-KT", "--default", "--currency", "USD", "--period", "00:00-00:00=0.2+0.1")
    row, box = booted
    assert box.call("C", pb.ID_SetTariffReq, pb.SetTariffReq()).message.status != 0


def test_a_box_cannot_set_a_tariff_of_ours(booted, tou):
    row, box = booted
    answer = box.call("C", pb.ID_SetTariffReq, pb.SetTariffReq(tariffid=5, chargetariffs=[pb.TariffCharge(
        timestart=0, timeend=1440, elecprice=1)]))
    assert answer.message.status != 0
    with pytest.raises(queue.Empty):
        box.requests.get(timeout=1.5)


def session(box, make_tag, connector="1", meter_stop=110.0, totalcost=None):
    make_tag("CARD-T")
    started = box.call("C", pb.ID_StartTransactionReq, pb.StartTransactionReq(
        connectorId=connector, IdData=pb.IdToken(id="CARD-T"), meterStart=100.0, timestamp=START))
    transaction_id = int(started.message.transactionId)
    stop = pb.StopTransactionReq(transactionId=str(transaction_id), meterStop=meter_stop, timestamp=START + 3600,
                                 reason=pb.SR_RemoteUser, connectorId=connector)
    if totalcost is not None:
        stop.cost.CopyFrom(pb.Cost(totalcost=totalcost, totalelec=1000))
    assert box.call("C", pb.ID_StopTransactionReq, stop).message_id == pb.ID_StopTransactionConf
    return transaction_id


def test_the_boxs_cost_is_kept_and_agreeing_within_a_fen_is_not_flagged(booted, flat, make_tag, read_api):
    row, box = booted
    transaction_id = session(box, make_tag, totalcost=1501)  # 10 kWh x 1.5 = 15.00 CNY; the box says 15.01
    cost = read_api(f"/api/v1/transactions/{transaction_id}")["cost"]
    assert (cost["total"], cost["boxReported"]) == ("15.00", "15.01")
    assert SessionCost.objects.get(pk=transaction_id).flags == []


def test_a_box_cost_that_disagrees_is_flagged_on_the_session_and_in_the_admin(booted, flat, make_tag, read_api,
                                                                               admin_client):
    row, box = booted
    agreeing = session(box, make_tag, connector="2", totalcost=1500)
    transaction_id = session(box, make_tag, totalcost=1420)
    cost = read_api(f"/api/v1/transactions/{transaction_id}")["cost"]
    assert (cost["total"], cost["boxReported"]) == ("15.00", "14.20")
    row_cost = SessionCost.objects.get(pk=transaction_id)
    assert row_cost.flags == [BOX_COST_DIFFERS]
    html = session_cost_html(row_cost)
    assert "the box reported 14.20 CNY" in html and "differs from ours" in html
    page = admin_client.get(reverse("admin:transactions_transaction_changelist"), {"box_cost": "differs"})
    assert page.status_code == 200
    listed = [tx.pk for tx in page.context["cl"].result_list]
    assert listed == [transaction_id] and agreeing not in listed
    assert "box: 14.20" in page.content.decode()


def test_a_recompute_keeps_the_boxs_figure_and_judges_it_again(booted, flat, make_tag):
    from datetime import UTC, datetime

    from transactions.costing import transactions_cost_recompute

    row, box = booted
    transaction_id = session(box, make_tag, totalcost=1420)
    addtariff("FLAT-KT", "--default", "--period", "00:00-00:00=0.92+0.5")  # corrected: 14.20 now
    list(transactions_cost_recompute(stopped_from=datetime(2026, 1, 1, tzinfo=UTC),
                                     stopped_to=datetime(2027, 1, 1, tzinfo=UTC)))
    row_cost = SessionCost.objects.get(pk=transaction_id)
    assert (row_cost.total, row_cost.box_reported, row_cost.flags) == (row_cost.box_reported, row_cost.total, [])


def test_a_stop_without_a_cost_has_no_box_figure(booted, flat, make_tag, read_api):
    row, box = booted
    transaction_id = session(box, make_tag)
    assert read_api(f"/api/v1/transactions/{transaction_id}")["cost"]["boxReported"] is None


def test_an_offline_order_with_the_boxs_cost_is_compared_too(booted, flat):
    row, box = booted
    answer = box.call("C", pb.ID_TransactionReq, pb.TransactionReq(
        recordId="7", connectorId="2", IdData=pb.IdToken(id="CARD-O"), meterStart=0, meterStop=2,
        timeStart=START, timeStop=START + 600, cost=pb.Cost(totalcost=250)))
    assert answer.message.status == 0
    cost = SessionCost.objects.get(transaction__box=row)
    assert (cost.total, str(cost.box_reported), cost.flags) == (3, "2.50", [BOX_COST_DIFFERS])
