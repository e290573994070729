"""TransactionReq (0x31 / 0xB1): offline orders uploaded over the real broker. Once per box and
recordId (a replay gets the same answer and creates nothing); an order for a session we have
completes it; one for a session we never saw becomes a whole session."""

from datetime import UTC, datetime

from kotodian.proto import charger_pb2 as pb
from transactions.models import MeterValue, OfflineOrder, Transaction

START = 1_780_000_000


def order(**fields) -> pb.TransactionReq:
    values = {"recordId": "1", "connectorId": "1", "IdData": pb.IdToken(id="CARD-OFF"), "meterStart": 100.0,
              "meterStop": 112.5, "timeStart": START, "timeStop": START + 3600, "reason": pb.SR_EVDisconnected}
    return pb.TransactionReq(**{**values, **fields})


def test_an_order_for_a_session_we_never_saw_becomes_a_whole_session(booted):
    row, box = booted
    answer = box.call("C", pb.ID_TransactionReq, order(recordId="41", transactionId="box-local-7"))
    assert answer.message_id == pb.ID_TransactionConf
    assert (answer.message.status, answer.message.recordId, answer.message.connectorId) == (0, "41", "1")
    session = Transaction.objects.get(box=row)
    assert (session.connector.connector_id, session.id_tag) == (1, "CARD-OFF")
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (100_000, 112_500, 12_500)
    assert session.started_at == datetime.fromtimestamp(START, UTC)
    assert session.stopped_at == datetime.fromtimestamp(START + 3600, UTC)
    assert session.stop_reason == "SR_EVDisconnected"
    assert OfflineOrder.objects.get(box=row, record_id="41").transaction_id == session.pk


def test_a_new_session_keeps_the_values_the_box_measured(booted):
    row, box = booted
    box.call("C", pb.ID_TransactionReq, order(recordId="50", start_soc=20, stop_soc=80, currentA=31.5, voltageA=229.5,
                                              power=7.1, batteryTemp=35))
    session = Transaction.objects.get(box=row)
    values = {(v.measurand, v.phase, v.location, v.context): (v.timestamp, v.value, v.unit)
              for v in MeterValue.objects.filter(transaction=session)}
    begin, end = datetime.fromtimestamp(START, UTC), datetime.fromtimestamp(START + 3600, UTC)
    assert values == {
        ("Energy.Active.Import.Register", "", "Outlet", "Transaction.Begin"): (begin, 100_000, "Wh"),
        ("Energy.Active.Import.Register", "", "Outlet", "Transaction.End"): (end, 112_500, "Wh"),
        ("SoC", "", "EV", "Transaction.Begin"): (begin, 20, "Percent"),
        ("SoC", "", "EV", "Transaction.End"): (end, 80, "Percent"),
        ("Current.Import", "L1", "Outlet", "Transaction.End"): (end, 31.5, "A"),
        ("Voltage", "L1", "Outlet", "Transaction.End"): (end, 229.5, "V"),
        ("Power.Active.Import", "", "Outlet", "Transaction.End"): (end, 7100, "W"),
        ("Temperature", "", "EV", "Transaction.End"): (end, 35, "Celsius"),
    }
    # A replay adds none.
    box.call("C", pb.ID_TransactionReq, order(recordId="50", start_soc=20, stop_soc=80))
    assert MeterValue.objects.filter(transaction=session).count() == 8


def test_a_replay_after_a_reconnect_gets_the_same_answer_and_creates_nothing(booted, kotodian_box, serial):
    row, box = booted
    first = box.call("C", pb.ID_TransactionReq, order(recordId="42"))
    box.close()
    again = kotodian_box(serial)  # the box comes back and uploads the same record again
    replay = again.call("C", pb.ID_TransactionReq, order(recordId="42"))
    assert replay.message == first.message
    assert Transaction.objects.filter(box=row).count() == 1
    assert OfflineOrder.objects.filter(box=row).count() == 1


def test_an_order_for_an_open_session_stops_it_with_its_energy(booted, make_tag):
    make_tag("CARD-OFF")
    row, box = booted
    started = box.call("C", pb.ID_StartTransactionReq, pb.StartTransactionReq(
        connectorId="2", IdData=pb.IdToken(id="CARD-OFF"), meterStart=500, timestamp=START))
    transaction_id = int(started.message.transactionId)
    answer = box.call("C", pb.ID_TransactionReq, order(
        recordId="43", connectorId="2", transactionId=str(transaction_id), meterStart=500, meterStop=520.25,
        timeStop=START + 1800, reason=pb.SR_PowerLoss))
    assert answer.message.status == 0
    session = Transaction.objects.get(pk=transaction_id)
    assert (session.meter_stop_wh, session.energy_wh, session.stop_reason) == (520_250, 20_250, "SR_PowerLoss")
    assert session.stopped_at == datetime.fromtimestamp(START + 1800, UTC)
    assert Transaction.objects.filter(box=row).count() == 1


def test_an_order_for_a_stopped_session_leaves_it_as_it_is(booted, make_tag):
    make_tag("CARD-OFF")
    row, box = booted
    started = box.call("C", pb.ID_StartTransactionReq, pb.StartTransactionReq(
        connectorId="1", IdData=pb.IdToken(id="CARD-OFF"), meterStart=10, timestamp=START))
    transaction_id = int(started.message.transactionId)
    box.call("C", pb.ID_StopTransactionReq, pb.StopTransactionReq(
        transactionId=str(transaction_id), meterStop=15, timestamp=START + 600, reason=pb.SR_LocalCard,
        connectorId="1"))
    # The box never got the StopTransactionConf, so it uploads the session as an order too (kotodian-apdu 1.5).
    answer = box.call("C", pb.ID_TransactionReq, order(
        recordId="44", transactionId=str(transaction_id), meterStart=10, meterStop=15, timeStop=START + 600))
    assert answer.message.status == 0
    session = Transaction.objects.get(pk=transaction_id)
    assert (session.meter_stop_wh, session.stop_reason) == (15_000, "SR_LocalCard")
    assert Transaction.objects.filter(box=row).count() == 1
    assert OfflineOrder.objects.get(box=row, record_id="44").transaction_id == transaction_id


def test_an_order_matches_a_session_started_online_by_connector_tag_and_start(booted, make_tag):
    make_tag("CARD-OFF")
    row, box = booted
    started = box.call("C", pb.ID_StartTransactionReq, pb.StartTransactionReq(
        connectorId="1", IdData=pb.IdToken(id="CARD-OFF"), meterStart=100, timestamp=START))
    # The box lost our transactionId (it never got the StartTransactionConf): the order names none.
    box.call("C", pb.ID_TransactionReq, order(recordId="45"))
    session = Transaction.objects.get(pk=int(started.message.transactionId))
    assert session.meter_stop_wh == 112_500 and session.stopped_at is not None
    assert Transaction.objects.filter(box=row).count() == 1


def test_orders_without_record_or_times_are_refused_with_a_status(booted):
    row, box = booted
    no_record = box.call("C", pb.ID_TransactionReq, order(recordId=""))
    assert no_record.message_id == pb.ID_TransactionConf and no_record.message.status != 0
    no_stop = box.call("C", pb.ID_TransactionReq, order(recordId="46", timeStop=0))
    assert no_stop.message.status != 0 and no_stop.message.recordId == "46"
    bad_connector = box.call("C", pb.ID_TransactionReq, order(recordId="47", connectorId="zero"))
    assert bad_connector.message.status != 0
    on_the_box = box.call("C", pb.ID_TransactionReq, order(recordId="48", connectorId="0"))
    assert on_the_box.message.status != 0
    assert not Transaction.objects.filter(box=row).exists() and not OfflineOrder.objects.exists()
    # Refused orders are not remembered: the same record, corrected, is taken.
    assert box.call("C", pb.ID_TransactionReq, order(recordId="46")).message.status == 0


def test_an_order_from_a_rejected_box_is_refused(booted):
    row, box = booted
    row.registration_status = "Rejected"
    row.save(update_fields=["registration_status"])
    answer = box.call("C", pb.ID_TransactionReq, order(recordId="49"))
    assert answer.message.status != 0
    assert not OfflineOrder.objects.exists() and not Transaction.objects.exists()
