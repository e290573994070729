"""A tariff of ours (tariffs, ADR 0018) in Kotodian's terms (kotodian-apdu 2.10, DESIGN 3): prices
in 0.1 fen per kWh, periods in minutes of the local day. Kotodian boxes bill in fen, so only a tariff
in CNY can be told to them.

A period that wraps midnight (22:00-06:00) goes as two segments (22:00-24:00 and 00:00-06:00), since
the document does not say how a box reads a segment whose end is before its start. A price with a
fourth decimal (0.1 fen is the third) goes rounded half-up to 0.1 fen: the box's figure may then be
up to 0.05 fen per kWh off ours, which the 0.01 tolerance of boxReported absorbs on any session of
less than 200 kWh."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from chargers.models import ChargeBox
from kotodian.proto import charger_pb2 as pb
from tariffs.models import Tariff
from tariffs.periods import DAY_MINUTES, Period
from tariffs.services import tariff_for

CURRENCY = "CNY"
# 0.1 fen in a yuan.
TENTHS_OF_FEN = Decimal(1000)


def tenths_of_fen(price: Decimal | None) -> int:
    return int((Decimal(price or 0) * TENTHS_OF_FEN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def box_tariff(box: ChargeBox) -> Tariff | None:
    """The tariff a session that starts now on ``box`` is billed by (tariffs.services), when a box
    can be told it (in CNY)."""
    tariff = tariff_for(station_id=box.station_id, at=timezone.now())
    return tariff if tariff is not None and tariff.currency == CURRENCY else None


def segments(period: Period) -> list[tuple[int, int]]:
    """The period as segments [start, end) of the day that do not wrap midnight (end 1440 is 24:00)."""
    end = period.start + period.minutes
    if end <= DAY_MINUTES:
        return [(period.start, end)]
    return [(period.start, DAY_MINUTES), (0, end - DAY_MINUTES)]


def set_tariff_req(tariff: Tariff) -> pb.SetTariffReq:
    """The tariff as a SetTariffReq: one TariffCharge per segment, tagged with its period, and the
    idle fee as a parking tariff from the end of the grace."""
    occupy = tenths_of_fen(tariff.idle_fee_per_hour)
    req = pb.SetTariffReq(tariffid=tariff.pk, description=(tariff.name or tariff.code)[:200])
    day = sorted((start, end, period) for period in tariff.period_values() for start, end in segments(period))
    for start, end, period in day:  # in the order of the day, from 00:00
        req.chargetariffs.append(pb.TariffCharge(
            timestart=start, timeend=end, tag=period.label, elecprice=tenths_of_fen(period.energy_price),
            serviceprice=tenths_of_fen(period.service_price), occupyprice=occupy,
        ))
    if tariff.idle_fee_per_hour:
        req.parkingtariffs.append(pb.TariffParking(timestart=tariff.idle_grace_minutes, price=occupy))
    return req


def set_price_scheme_conf(tariff: Tariff) -> pb.SetPriceSchemeConf:
    """The tariff as a SetPriceSchemeConf, which carries no prices: the start of each segment and,
    as its tag, the index of the same segment in the SetTariffReq of the same tariffId
    (``set_tariff_req``), where its prices are. baseTime: when the tariff took effect (0: always)."""
    conf = pb.SetPriceSchemeConf(tariffId=tariff.pk,
                                 baseTime=int(tariff.valid_from.timestamp()) if tariff.valid_from else 0)
    for index, charge in enumerate(set_tariff_req(tariff).chargetariffs):
        conf.chargeTariffs.append(pb.ChargeTariff(timeStart=charge.timestart, tag=index))
    return conf
