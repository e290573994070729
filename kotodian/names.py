"""Code -> name tables for display: what a status page, the admin or the journal shows next to a
number a box sent. The protocol's own spellings are kept (typos included, e.g. SR_BMSOhterFault), so
that a name can be looked up in the vendor's documents."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from kotodian.proto import charger_pb2, measure_pb2, warning_pb2


def _table(enum: EnumTypeWrapper) -> Mapping[int, str]:
    return MappingProxyType({value.number: value.name for value in enum.DESCRIPTOR.values})


#: StopReason (kotodian-apdu section 3): 0-81 without 14 and 15, 101-108 and 999.
STOP_REASONS = _table(charger_pb2.StopReason)
#: Warnings, the codes of WarningReq.code (kotodian-apdu 2.12, Appendix D).
WARNINGS = _table(warning_pb2.Warnings)
#: Measurand, the codes of SampledValue.measurand (kotodian-apdu 2.8, Appendix C).
MEASURANDS = _table(measure_pb2.Measurand)
#: StatusNotificationReq.connectorState: no enum is bound to it upstream; DESIGN 3 adopts the table that
#: Kotodian's own gateway sends (interfaces/connector.go KindConnectorState, kotodian-apdu 2.9).
CONNECTOR_STATES: Mapping[int, str] = MappingProxyType({
    0: "Unavailable",
    1: "Available",
    2: "Occupied",
    3: "Reserved",
    4: "Faulted",
    5: "Preparing",
    6: "Charging",
    7: "SuspendedEV",
    8: "SuspendedEVSE",
    9: "Finishing",
})


def name_of(table: Mapping[int, str], code: int) -> str:
    """``table``'s name for ``code``; a code outside the table is shown as such rather than hidden
    (vendors send codes of their own, and old firmware some of other meanings)."""
    return table.get(code, f"unknown ({code})")
