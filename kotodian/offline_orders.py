"""TransactionReq (0x31 / 0xB1, kotodian-apdu 2.11): the offline orders a box uploads after a
reconnect, onto transactions.offline, which holds the rules (once per record, completing a session
we have, creating one we never saw). The edge only reads the fields."""

from __future__ import annotations

from chargers.models import ChargeBox
from kotodian.handlers import (
    FieldInvalid,
    box_cost_in,
    connector_in,
    handles,
    id_tag_in,
    number_in,
    stop_reason_in,
    text_in,
    time_in,
    wh_in,
)
from kotodian.proto import charger_pb2 as pb
from transactions.models import OfflineOrder
from transactions.offline import OfflineOrderReport, offline_order_record

def our_session(value: str) -> int | None:
    """transactionId names one of our sessions when the box had started it online (our decimal id);
    a box's own id for a session it ran offline names none of ours."""
    try:
        number = number_in(value, "transactionId")
    except FieldInvalid:
        return None
    return number if number is not None and 0 < number < 2**31 else None


def stop_time_in(seconds: int, field: str):
    if not seconds:
        raise FieldInvalid(f"{field} is missing: an offline order is a finished session", field=field)
    return time_in(seconds, field)


@handles("Transaction")
def offline_order(box: ChargeBox, req: pb.TransactionReq) -> pb.TransactionConf:
    record_id = text_in(req.recordId.strip(), "recordId", OfflineOrder._meta.get_field("record_id").max_length)
    if not record_id:
        raise FieldInvalid("recordId is missing", field="recordId")
    offline_order_record(box=box, order=OfflineOrderReport(
        record_id=record_id,
        connector_id=connector_in(req.connectorId, empty=None),
        id_tag=id_tag_in(req),
        meter_start_wh=wh_in(req.meterStart, "meterStart"),
        meter_stop_wh=wh_in(req.meterStop, "meterStop"),
        started_at=stop_time_in(req.timeStart, "timeStart"),
        stopped_at=stop_time_in(req.timeStop, "timeStop"),
        reason=stop_reason_in(req.reason),
        transaction_id=our_session(req.transactionId),
        box_reported_cost=box_cost_in(req),
    ))
    return pb.TransactionConf(status=0, recordId=req.recordId, connectorId=req.connectorId)
