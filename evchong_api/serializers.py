"""One Input serializer per forward method, field for field as EVCHONG 2.x's tables give them."""

import threading

from rest_framework import serializers

from evchong_api import vocabulary
from evchong_api.fields import EnumField, EpochMillisField, StrictIntegerField
from transactions.units import MEASURANDS, UNITS_ACCEPTED, measurand_canonical, unit_known
from transactions.choices import Location, ReadingContext, Reason, ValueFormat

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

_kept = threading.local()


def validated(Input: type[serializers.Serializer], data) -> dict:
    """``Input(data=data)``'s validated data, or its ValidationError, from a serializer kept per
    thread and reused. A new serializer deep-copies its declared fields, nested ones included, and
    builds each anew: for a meterValues request that was a fifth of the server's CPU. The fields
    of a kept serializer are bound to it alone and used by one thread at a time."""
    kept = _kept.__dict__.setdefault("serializers", {})
    serializer = kept.get(Input)
    if serializer is None:
        serializer = kept[Input] = Input()
    serializer.initial_data = data
    for outcome in ("_validated_data", "_errors", "_data"):  # what is_valid left of the last request
        serializer.__dict__.pop(outcome, None)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def box_serial():
    return serializers.CharField(max_length=25)


def optional(max_length):
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True, allow_null=True)


class DeviceBootInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    chargePointModel = optional(20)
    chargePointSerialNumber = serializers.CharField(max_length=25)
    chargePointVendor = serializers.CharField(max_length=20)
    firmwareVersion = optional(50)
    iccid = optional(20)
    imsi = optional(20)
    meterSerialNumber = optional(25)
    meterType = optional(25)


class AuthorizeInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    idTag = serializers.CharField(max_length=20)


class HeartbeatInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    chargePointSerialNumber = optional(25)


class StartTransInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    connectorId = StrictIntegerField(min_value=1, max_value=INT32_MAX)
    idTag = serializers.CharField(max_length=20)
    meterStart = StrictIntegerField(min_value=0, max_value=INT64_MAX)
    reservationId = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=INT32_MAX)
    timestamp = EpochMillisField()


class MeterValueInput(serializers.Serializer):
    """EVCHONG 4.4, with OCPP 1.6 SampledValue's optional attributes."""

    timestamp = EpochMillisField()
    value = serializers.CharField(max_length=2500, allow_blank=True, trim_whitespace=False)
    measurand = serializers.CharField(max_length=50)
    unit = serializers.CharField(max_length=10, required=False, allow_blank=True, allow_null=True)
    phase = serializers.ChoiceField(
        choices=["L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"],
        required=False, allow_blank=True, allow_null=True,
    )
    location = EnumField(Location.values, required=False, allow_blank=True, allow_null=True)
    context = serializers.CharField(max_length=20, required=False, allow_blank=True, allow_null=True)
    format = EnumField(ValueFormat.values, required=False, allow_blank=True, allow_null=True)

    def validate_measurand(self, value):
        canonical = measurand_canonical(value)
        if canonical is None:
            raise serializers.ValidationError(f'"{value}" is not one of: {", ".join(MEASURANDS)}.')
        return canonical

    def validate_unit(self, value):
        if value and not unit_known(value):
            raise serializers.ValidationError(f'"{value}" is not one of: {", ".join(UNITS_ACCEPTED)}.')
        return value or None

    def validate_context(self, value):
        # The spec writes Sample_Periodic for OCPP's Sample.Periodic.
        if not value:
            return None
        canonical = {c.replace(".", "").lower(): c for c in ReadingContext.values}.get(
            value.replace(".", "").replace("_", "").lower()
        )
        if canonical is None:
            raise serializers.ValidationError(f'"{value}" is not one of: {", ".join(ReadingContext.values)}.')
        return canonical


class MeterValuesInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    connectorId = StrictIntegerField(min_value=0, max_value=INT32_MAX)
    transactionId = StrictIntegerField(min_value=-1, max_value=INT32_MAX)
    values = MeterValueInput(many=True)


class TransactionDataInput(serializers.Serializer):
    values = MeterValueInput(many=True)


class StopTransInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    idTag = serializers.CharField(max_length=20, required=False, allow_blank=True, allow_null=True)
    meterStop = StrictIntegerField(min_value=0, max_value=INT64_MAX)
    transactionId = StrictIntegerField(min_value=0, max_value=INT32_MAX)
    transactionData = TransactionDataInput()
    timestamp = EpochMillisField()
    reason = EnumField(Reason.values, required=False, allow_blank=True, allow_null=True)  # OCPP 1.6 gateways send it


class StatusNotifyInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    connectorId = StrictIntegerField(min_value=0, max_value=INT32_MAX)
    errorCode = EnumField(vocabulary.ERROR_CODES)
    info = optional(50)
    status = EnumField(vocabulary.STATUSES)
    timestamp = EpochMillisField()
    vendorId = serializers.CharField(max_length=255, allow_blank=True)
    vendorErrorCode = serializers.CharField(max_length=50, allow_blank=True)
    # Empty string in the spec's own example: no transaction.
    transactionId = StrictIntegerField(required=False, allow_null=True, min_value=-1, max_value=INT32_MAX)

    def to_internal_value(self, data):
        if isinstance(data, dict) and data.get("transactionId") == "":
            data = {**data, "transactionId": None}
        return super().to_internal_value(data)


class FirmwareStatusNotifyInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    status = EnumField(vocabulary.FIRMWARE_STATUSES)
