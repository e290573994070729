"""One Input serializer per forward method, field for field as EVCHONG 2.x's tables give them."""

import threading

from rest_framework import serializers

from evchong_api import vocabulary
from evchong_api.fields import EnumField, EpochMillisField, StrictIntegerField, epoch_ms_moment
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
    if (plain := PLAIN_PATHS.get(Input)) is not None and (found := plain(data)) is not None:
        return found  # what boxes mostly send, validated without DRF (plain_meter_values)
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
        if not value:
            return None
        canonical = reading_context(value)
        if canonical is None:
            raise serializers.ValidationError(f'"{value}" is not one of: {", ".join(ReadingContext.values)}.')
        return canonical


class MeterValuesInput(serializers.Serializer):
    chargeBoxSerialNumber = box_serial()
    connectorId = StrictIntegerField(min_value=0, max_value=INT32_MAX)
    transactionId = StrictIntegerField(min_value=-1, max_value=INT32_MAX)
    values = MeterValueInput(many=True)


_CONTEXT_BY_KEY = {c.replace(".", "").lower(): c for c in ReadingContext.values}


def reading_context(word: str) -> str | None:
    """OCPP's spelling of a reading context; the spec writes Sample_Periodic for Sample.Periodic."""
    return _CONTEXT_BY_KEY.get(word.replace(".", "").replace("_", "").lower())


# What follows validates a meterValues request in the shape nearly every box sends it, to the very
# data DRF gives, and gives up (None) on anything else, which then goes through the serializer: DRF
# spent about 33 us of CPU per sampled value, 150 of a request's 160, a seventh of a server
# process's CPU per request under the bench's REST load. Its limits are read off the serializers'
# fields and its words come from the functions their validate_ methods call, so a rule is still
# stated once; tests/evchong_api/test_plain_meter_values.py holds both to the same answers.
_METER, _SAMPLED = MeterValuesInput().fields, MeterValueInput().fields


def _plain_text(text, field) -> bool:
    """``text`` is one the CharField ``field`` takes unchanged: a string of ASCII without NUL (no
    surrogates, nothing for the validators to refuse), within its length, and for a trimmed field
    neither blank nor with blanks around it."""
    return (type(text) is str and text.isascii() and len(text) <= field.max_length and "\x00" not in text
            and (not field.trim_whitespace or (text != "" and text.strip() == text)))


def _plain_int(number, field) -> bool:
    return type(number) is int and field.min_value <= number <= field.max_value


def _plain_choice(name: str):
    choices = _SAMPLED[name].choice_strings_to_values
    return lambda word: choices.get(word) if type(word) is str else None


def _plain_unit(word):
    return word if _plain_text(word, _SAMPLED["unit"]) and unit_known(word) else None


def _plain_context(word):
    return reading_context(word) if _plain_text(word, _SAMPLED["context"]) else None


# The optional fields of a sampled value, each with what takes its plain word to DRF's value.
_PLAIN_OPTIONAL = (
    ("unit", _plain_unit),
    ("phase", _plain_choice("phase")),
    ("location", _plain_choice("location")),
    ("context", _plain_context),
    ("format", _plain_choice("format")),
)


def plain_sampled_values(items) -> list[dict] | None:
    """MeterValueInput(many=True)'s validated data for sampled values whose timestamps are epoch
    milliseconds as numbers and whose words are plain (``_plain_text``) and known; else None."""
    if type(items) is not list:
        return None
    found = []
    for item in items:
        if type(item) is not dict:
            return None
        moment, value, measurand = epoch_ms_moment(item.get("timestamp")), item.get("value"), item.get("measurand")
        if moment is None or not _plain_text(value, _SAMPLED["value"]) or not _plain_text(measurand, _SAMPLED["measurand"]):
            return None
        measurand = measurand_canonical(measurand)
        if measurand is None:
            return None
        sampled = {"timestamp": moment, "value": value, "measurand": measurand}
        for name, plain in _PLAIN_OPTIONAL:
            if name in item:
                word = plain(item[name])
                if word is None:
                    return None
                sampled[name] = word
        found.append(sampled)
    return found


def plain_meter_values(data) -> dict | None:
    """MeterValuesInput's validated data for a plain request (``plain_sampled_values``), or None."""
    if type(data) is not dict:
        return None
    serial, connector, transaction = data.get("chargeBoxSerialNumber"), data.get("connectorId"), data.get("transactionId")
    if not (_plain_text(serial, _METER["chargeBoxSerialNumber"]) and _plain_int(connector, _METER["connectorId"])
            and _plain_int(transaction, _METER["transactionId"])):
        return None
    values = plain_sampled_values(data.get("values"))
    if values is None:
        return None
    return {"chargeBoxSerialNumber": serial, "connectorId": connector, "transactionId": transaction, "values": values}


# Inputs with a plain path that ``validated`` tries first, by exact class (a subclass with other
# fields must not inherit one).
PLAIN_PATHS = {MeterValuesInput: plain_meter_values}


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
