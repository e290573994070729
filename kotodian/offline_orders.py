"""TransactionReq (0x31 / 0xB1, kotodian-apdu 2.11): the offline orders a box uploads after a
reconnect, onto transactions.offline, which holds the rules (once per record, completing a session
we have, creating one we never saw). The edge only reads the fields."""

from __future__ import annotations

import math

from chargers.models import ChargeBox
from kotodian.handlers import (
    PHASES,
    FieldInvalid,
    box_cost_in,
    connector_in,
    handles,
    id_tag_in,
    number_in,
    sample,
    stop_reason_in,
    text_in,
    time_in,
    wh_in,
)
from kotodian.proto import charger_pb2 as pb
from transactions.choices import Location, ReadingContext
from transactions.models import OfflineOrder
from transactions.offline import OfflineOrderReport, offline_order_record
from transactions.services import Sample

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


def order_samples(req: pb.TransactionReq, started_at, stopped_at) -> tuple[Sample, ...]:
    """The order's readings: the energy register at start and stop, the SoC at start and stop, and
    the last currents, voltages, power and battery temperature, taken as of the stop. proto3 cannot
    tell a 0 from a field not sent, so a zero reading (but the register's) is not stored."""
    begin, end = ReadingContext.TRANSACTION_BEGIN, ReadingContext.TRANSACTION_END
    samples = [
        sample(started_at, req.meterStart, "Energy.Active.Import.Register", "kWh", context=begin),
        sample(stopped_at, req.meterStop, "Energy.Active.Import.Register", "kWh", context=end),
    ]
    for moment, soc, context in ((started_at, req.start_soc, begin), (stopped_at, req.stop_soc, end)):
        if soc:
            samples.append(sample(moment, soc, "SoC", "Percent", location=Location.EV, context=context))
    for phase, current, voltage in zip(PHASES, (req.currentA, req.currentB, req.currentC),
                                       (req.voltageA, req.voltageB, req.voltageC), strict=True):
        if current:
            samples.append(sample(stopped_at, current, "Current.Import", "A", phase=phase, context=end))
        if voltage:
            samples.append(sample(stopped_at, voltage, "Voltage", "V", phase=phase, context=end))
    if req.power:
        samples.append(sample(stopped_at, req.power, "Power.Active.Import", "kW", context=end))
    if req.batteryTemp:
        samples.append(sample(stopped_at, req.batteryTemp, "Temperature", "Celsius", location=Location.EV,
                              context=end))
    return tuple(samples)


@handles("Transaction")
def offline_order(box: ChargeBox, req: pb.TransactionReq) -> pb.TransactionConf:
    record_id = text_in(req.recordId.strip(), "recordId", OfflineOrder._meta.get_field("record_id").max_length)
    if not record_id:
        raise FieldInvalid("recordId is missing", field="recordId")
    started_at, stopped_at = stop_time_in(req.timeStart, "timeStart"), stop_time_in(req.timeStop, "timeStop")
    for name in ("currentA", "currentB", "currentC", "voltageA", "voltageB", "voltageC", "power"):
        if not math.isfinite(getattr(req, name)):
            raise FieldInvalid(f"{name} is not a number", field=name)
    offline_order_record(box=box, order=OfflineOrderReport(
        record_id=record_id,
        connector_id=connector_in(req.connectorId, empty=None),
        id_tag=id_tag_in(req),
        meter_start_wh=wh_in(req.meterStart, "meterStart"),
        meter_stop_wh=wh_in(req.meterStop, "meterStop"),
        started_at=started_at,
        stopped_at=stopped_at,
        samples=order_samples(req, started_at, stopped_at),
        reason=stop_reason_in(req.reason),
        transaction_id=our_session(req.transactionId),
        box_reported_cost=box_cost_in(req),
    ))
    return pb.TransactionConf(status=0, recordId=req.recordId, connectorId=req.connectorId)
