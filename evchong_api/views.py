"""The EVCHONG forward API (EVCHONG 2.1-2.8): one view per method, each a thin adapter that
validates the spec's fields, calls a domain service and renders the spec's answer."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from chargers.choices import Protocol, RegistrationStatus
from chargers.services import (
    IdTagInfo,
    active_transaction_id,
    box_boot,
    connector_status_report,
    idtag_authorize,
)
from core.errors import DomainError
from evchong_api import serializers as s
from evchong_api import vocabulary
from evchong_api.auth import check_box_credentials
from evchong_api.committer import Exchange, exchanges_write
from evchong_api.errors import exception_handler
from evchong_api.fields import to_epoch_ms
from evchong_api.parsing import AnyAccept, ChunkedBody, EnvelopeError, EvchongParser, flatten, parse_json
from firmware.services import firmware_status_record
from transactions.services import (
    MeterReport,
    Sample,
    meter_report_check,
    meter_reports_store,
    transaction_start,
    transaction_stop,
)


def id_tag_info_out(info: IdTagInfo) -> dict:
    out: dict = {"status": info.status}
    if info.expiry is not None:
        out["expiryDate"] = to_epoch_ms(info.expiry)
    if info.parent_id_tag:
        out["parentIdTag"] = {"idToken": info.parent_id_tag}
    return out


def samples_in(values: list[dict]) -> list[Sample]:
    return [
        Sample(
            timestamp=v["timestamp"],
            value=v["value"],
            measurand=v["measurand"],
            unit=v.get("unit"),
            phase=v.get("phase") or "",
            location=v.get("location") or "Outlet",
            context=v.get("context") or "Sample.Periodic",
            format=v.get("format") or "Raw",
        )
        for v in values
    ]


class Credentials:
    """The one header check_box_credentials reads, for callers that have no Django request."""

    def __init__(self, authorization: str):
        self.META = {"HTTP_AUTHORIZATION": authorization} if authorization else {}


def now_ms() -> int:
    return to_epoch_ms(timezone.now())


@extend_schema(exclude=True)
class ForwardView(ChunkedBody, APIView):
    """Parse, validate, identify the box, call ``handle(box, data) -> answer``, journal both ways."""

    method: str
    envelope: str | None = None
    Input: type[s.serializers.Serializer]
    # deviceBoot must answer unknown boxes itself (Rejected), the others refuse them.
    require_known_box = True

    # False for methods that only read: a batch (evchong_api.committer) spares them a savepoint.
    writes = True
    # handle_batch(items: [(box, data)]) -> [answer or exception]: the method for a whole batch in
    # a constant number of statements, where it has one.
    handle_batch = None

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser, EvchongParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAccept

    def get_exception_handler(self):
        return exception_handler

    def post(self, request):
        return Response(self.answer(self.document(request), request.META.get("HTTP_AUTHORIZATION", "")))

    def answer(self, document: dict, authorization: str) -> dict:
        """The answer to one request whose body is ``document``, done as a batch of one (the DRF
        path: multipart bodies); raises what it failed with."""
        exchange = Exchange(self, document, authorization)
        exchanges_write([exchange], bulk=False)
        if exchange.failure is not None:
            raise exchange.failure
        return exchange.answer

    def validated(self, document: dict) -> dict:
        return s.validated(self.Input, flatten(document, self.envelope))

    @staticmethod
    def check_credentials(box, authorization: str) -> None:
        check_box_credentials(Credentials(authorization), box)

    @staticmethod
    def document(request) -> dict:
        data = request.data
        if not data and not int(request.META.get("CONTENT_LENGTH") or 0):
            # DRF hands an empty body to no parser at all.
            raise EnvelopeError("the request body is empty; expected data={...} or a JSON object")
        if isinstance(data, dict) and not hasattr(data, "getlist"):
            return data
        # multipart/form-data: the JSON is the "data" field
        field = data.get("data") if data is not None else None
        if not field:
            raise EnvelopeError("no data field in the form; expected data={...}")
        return parse_json(field)


class DeviceBootView(ForwardView):
    """EVCHONG 2.1."""

    method, Input, require_known_box = "deviceBoot", s.DeviceBootInput, False

    def handle(self, box, data):
        result = box_boot(
            serial=data["chargeBoxSerialNumber"],
            protocol=Protocol.EVCHONG,
            vendor=data["chargePointVendor"],
            model=data.get("chargePointModel") or "",
            charge_point_serial=data["chargePointSerialNumber"],
            firmware_version=data.get("firmwareVersion") or "",
            iccid=data.get("iccid") or "",
            imsi=data.get("imsi") or "",
            meter_type=data.get("meterType") or "",
            meter_serial=data.get("meterSerialNumber") or "",
        )
        # EVCHONG 4.10 knows Accepted and Rejected only: a box awaiting approval is not accepted.
        status = "Accepted" if result.status == RegistrationStatus.ACCEPTED else "Rejected"
        return {
            "heartbeatInterval": result.interval,
            "currentTime": to_epoch_ms(result.current_time),
            "status": status,
        }


class AuthorizeView(ForwardView):
    """EVCHONG 2.2: request and answer wrapped in authReq / authRes."""

    method, Input, envelope, writes = "authorize", s.AuthorizeInput, "authReq", False

    def handle(self, box, data):
        return {"authRes": {"idTagInfo": id_tag_info_out(idtag_authorize(id_tag=data["idTag"]))}}


class HeartbeatView(ForwardView):
    """EVCHONG 2.3 (the sign of life every request is, evchong_api.committer, is the whole of it)."""

    method, Input, writes = "heartbeat", s.HeartbeatInput, False

    def handle(self, box, data):
        # Now, not box.last_seen: that may be a few seconds old on purpose (box_touch_due).
        return {"currentTime": now_ms()}


class StartTransView(ForwardView):
    """EVCHONG 2.4."""

    method, Input = "startTrans", s.StartTransInput

    def handle(self, box, data):
        result = transaction_start(
            box=box,
            connector_id=data["connectorId"],
            id_tag=data["idTag"],
            meter_start_wh=data["meterStart"],
            timestamp=data["timestamp"],
            reservation_id=data.get("reservationId"),
        )
        return {"idTagInfo": id_tag_info_out(result.id_tag_info), "transactionId": result.transaction.id}


class MeterValuesView(ForwardView):
    """EVCHONG 2.5."""

    method, Input = "meterValues", s.MeterValuesInput

    def handle(self, box, data):
        (result,) = self.handle_batch([(box, data)])
        if isinstance(result, Exception):
            raise result
        return result

    @staticmethod
    def handle_batch(items):
        """The sampled values of a whole batch of requests in one read of sessions and one INSERT."""
        reports, results = [], []
        for box, data in items:
            report = MeterReport(box, data["connectorId"], data["transactionId"], samples_in(data["values"]))
            try:
                meter_report_check(report)
            except DomainError as exc:
                results.append(exc)
                continue
            reports.append(report)
            results.append({"transactionId": data["transactionId"], "timestamp": now_ms()})
        meter_reports_store(reports)
        return results


class StopTransView(ForwardView):
    """EVCHONG 2.6."""

    method, Input = "stopTrans", s.StopTransInput

    def handle(self, box, data):
        result = transaction_stop(
            box=box,
            transaction_id=data["transactionId"],
            meter_stop_wh=data["meterStop"],
            timestamp=data["timestamp"],
            id_tag=data.get("idTag") or None,
            reason=data.get("reason") or "",
            samples=samples_in(data["transactionData"]["values"]),
        )
        # idTagInfo is mandatory in the answer; a stop with no tag for an unknown session is Invalid.
        info = result.id_tag_info or IdTagInfo("Invalid")
        return {"idTagInfo": id_tag_info_out(info), "transactionId": data["transactionId"]}


class StatusNotifyView(ForwardView):
    """EVCHONG 2.7."""

    method, Input = "statusNotify", s.StatusNotifyInput

    def handle(self, box, data):
        transaction_id = data.get("transactionId")
        in_session = (transaction_id or 0) > 0 or (
            transaction_id is None and active_transaction_id(box=box, connector_id=data["connectorId"]) is not None
        )
        connector_status_report(
            box=box,
            connector_id=data["connectorId"],
            status=vocabulary.status_to_ocpp(data["status"], in_session=in_session),
            error_code=vocabulary.error_code_to_ocpp(data["errorCode"]),
            timestamp=data["timestamp"],
            info=data.get("info") or "",
            vendor_id=data["vendorId"],
            vendor_error_code=data["vendorErrorCode"],
            raw_status=data["status"],
            raw_error_code=data["errorCode"],
            transaction_id=transaction_id if (transaction_id or 0) > 0 else None,
            periodic=transaction_id == -1,
        )
        return {"timestamp": now_ms()}


class FirmwareStatusNotifyView(ForwardView):
    """EVCHONG 2.8."""

    method, Input = "firmwareStatusNotify", s.FirmwareStatusNotifyInput

    def handle(self, box, data):
        firmware_status_record(box=box, status=data["status"])
        return {"timestamp": now_ms()}


VIEWS = [
    DeviceBootView, AuthorizeView, HeartbeatView, StartTransView,
    MeterValuesView, StopTransView, StatusNotifyView, FirmwareStatusNotifyView,
]
