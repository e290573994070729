"""WarningReq (0x33 / 0xB3, kotodian-apdu 2.12): a box's alarms onto chargers.alarms, which holds
the rules (one open alarm per code and connector, cleared by the box or by its time to live).
Here only the fields are read: the code by its name in the Warnings enum (Appendix D), the level
in syslog's words, the component by its enum name.

``ttl``: -1 keeps the alarm until the box clears it, a positive number keeps it that many seconds.
The protocol document reads 0 as "delete the alarm", but proto3 sends no field that is 0, so a box
that left ttl out cannot be told from one that sent 0: the edge takes 0 as "not sent" and keeps the
alarm until cleared. A box clears an alarm with ``clean`` (docs/adr/0019)."""

from __future__ import annotations

from chargers.alarms import AlarmReport, alarm_clear, alarm_raise
from chargers.choices import AlarmLevel
from chargers.models import ChargeBox
from kotodian.handlers import FieldInvalid, connector_in, handles, time_in
from kotodian.names import WARNINGS, name_of
from kotodian.proto import charger_pb2 as pb

# WarningLevel in syslog's words; the two that name a kind of fault rather than a grade (Hardware,
# System) are alerts, and the component says what kind.
LEVELS = {
    pb.WL_Critical: AlarmLevel.CRITICAL,
    pb.WL_Alert: AlarmLevel.ALERT,
    pb.WL_Warning: AlarmLevel.WARNING,
    pb.WL_Notice: AlarmLevel.NOTICE,
    pb.WL_Info: AlarmLevel.INFO,
    pb.WL_Hardware: AlarmLevel.ALERT,
    pb.WL_SYSTEM: AlarmLevel.ALERT,
}


def code_in(req: pb.WarningReq) -> str:
    """The alarm's name: the Warnings enum's, else the vendor's code, else the number as such."""
    if req.code in WARNINGS or not req.vendorEx:
        return name_of(WARNINGS, req.code)
    return f"vendor {req.vendorEx}"


def component_in(req: pb.WarningReq) -> str:
    if req.component not in pb.Components.values():
        raise FieldInvalid(f"component {req.component} is not a Components value", field="component")
    name = pb.Components.Name(req.component)
    return f"{name} {req.componentId}" if req.componentId else name


@handles("Warning")
def warning(box: ChargeBox, req: pb.WarningReq) -> pb.WarningConf:
    code = code_in(req)
    if req.clean:
        alarm_clear(box=box, code=code, at=time_in(req.time, "time"))
    else:
        level = LEVELS.get(req.level)
        if level is None:
            raise FieldInvalid(f"level {req.level} is not a WarningLevel", field="level")
        if req.ttl < -1:
            raise FieldInvalid(f"ttl {req.ttl} is neither -1 nor a number of seconds", field="ttl")
        alarm_raise(box=box, report=AlarmReport(
            code=code, level=level, connector_id=connector_in(req.connectorId), component=component_in(req),
            info=req.info, vendor_code=req.vendorEx, ttl=req.ttl if req.ttl > 0 else None,
            raised=time_in(req.time, "time"),
        ))
    return pb.WarningConf(code=req.code, clean=req.clean)
