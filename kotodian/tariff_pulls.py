"""A box asks for its tariff (kotodian-apdu 1.5, 2.10): SetTariffReq with an empty payload, answered
SetTariffConf and then the tariff as a SetTariffReq of ours; or SetPriceSchemeReq, answered with
SetPriceSchemeConf. Both from the tariff the domain bills the box's sessions by
(kotodian.price_schemes); where none applies, refused (status 1, or EC_GenericError for the
SetPriceSchemeConf, which has no status)."""

from __future__ import annotations

from chargers.models import ChargeBox
from core.errors import DomainError
from kotodian.handlers import handles
from kotodian.price_schemes import box_tariff, set_price_scheme_conf, set_tariff_req
from kotodian.proto import charger_pb2 as pb
from kotodian.replies import ConfThenRequests


def required_tariff(box: ChargeBox):
    tariff = box_tariff(box)
    if tariff is None:
        raise DomainError("no tariff in CNY applies to this box", field="tariffid")
    return tariff


@handles("SetTariff", writes=False)
def set_tariff_pull(box: ChargeBox, req: pb.SetTariffReq) -> ConfThenRequests:
    if req.ByteSize():
        raise DomainError("tariffs are set by the central system: send SetTariffReq empty to ask for yours",
                          field="tariffid")
    return ConfThenRequests(pb.SetTariffConf(status=0),
                            ((pb.ID_SetTariffReq, set_tariff_req(required_tariff(box))),))


@handles("SetPriceScheme", writes=False)
def set_price_scheme_pull(box: ChargeBox, req: pb.SetPriceSchemeReq) -> pb.SetPriceSchemeConf:
    return set_price_scheme_conf(required_tariff(box))
