"""Our .proto files say exactly what kotodian-apdu Appendix A-D say: every message with its field
numbers, names and types, every enum with its values. The document is read from tests/kotodian/data/,
verbatim copies of its appendices."""

from __future__ import annotations

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor

import apdu_document
from kotodian.proto import charger_pb2, measure_pb2, warning_pb2

SCALARS = {
    FieldDescriptor.TYPE_INT32: "int32", FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT32: "uint32", FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_BOOL: "bool", FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes", FieldDescriptor.TYPE_DOUBLE: "double",
}
PACKAGE = "Goiot.Protocol.Charger."


def is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def type_as_documented(field: FieldDescriptor) -> str:
    """A field's type spelled as Appendix A spells it: "repeated KeyValue", "map<string,int32>"."""
    if is_map(field):
        key, value = (field.message_type.fields_by_name[name] for name in ("key", "value"))
        return f"map<{type_as_documented(key)},{type_as_documented(value)}>"
    named = field.message_type or field.enum_type
    name = SCALARS[field.type] if named is None else named.full_name.removeprefix(PACKAGE)
    return f"repeated {name}" if field.is_repeated else name


def all_messages(descriptors, prefix: str = ""):
    for descriptor in descriptors:
        yield prefix + descriptor.name, descriptor
        nested = [d for d in descriptor.nested_types if not d.GetOptions().map_entry]
        yield from all_messages(nested, f"{prefix}{descriptor.name}.")


def our_messages() -> dict[str, Descriptor]:
    return dict(all_messages(charger_pb2.DESCRIPTOR.message_types_by_name.values()))


def our_enums() -> dict[str, list[tuple[str, int]]]:
    found = dict(charger_pb2.DESCRIPTOR.enum_types_by_name)
    for name, message in our_messages().items():
        found.update({f"{name}.{enum.name}": enum for enum in message.enum_types})
    return {name: [(value.name, value.number) for value in enum.values] for name, enum in found.items()}


def test_the_files_are_proto3_in_the_upstream_packages():
    assert charger_pb2.DESCRIPTOR.package == "Goiot.Protocol.Charger"
    assert measure_pb2.DESCRIPTOR.package == "Goiot.Protocol.Charger.Measure"
    assert warning_pb2.DESCRIPTOR.package == "Goiot.Protocol.Charger.Warning"
    for module in (charger_pb2, measure_pb2, warning_pb2):
        file = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(file)
        # proto3: zero values are not written, which the byte examples of kotodian-apdu 1.6 rely on.
        assert file.syntax == "proto3"


def test_every_message_of_appendix_a_has_exactly_the_documented_fields():
    ours = our_messages()
    for name, fields in apdu_document.messages().items():
        got = sorted((f.number, f.name, type_as_documented(f)) for f in ours[name].fields)
        assert got == sorted(fields), name


def test_the_only_message_beyond_appendix_a_is_the_empty_reply_to_update_id_card_cache():
    extra = set(our_messages()) - set(apdu_document.messages())
    assert extra == {"UpdateIdCardCacheConf"}
    assert not our_messages()["UpdateIdCardCacheConf"].fields


def test_appendix_a_counts_142_messages_and_appendix_b_46_enums():
    assert len(apdu_document.messages()) == 142
    assert len(apdu_document.enums()) == 46


def test_every_enum_of_appendix_b_has_exactly_the_documented_values_in_order():
    assert our_enums() == apdu_document.enums()


def test_measurands_are_the_68_codes_of_appendix_c():
    ours = {value.number: value.name for value in measure_pb2.Measurand.DESCRIPTOR.values}
    assert ours == apdu_document.measurands()
    assert len(ours) == 68


def test_warnings_are_the_210_codes_of_appendix_d():
    ours = {value.number: value.name for value in warning_pb2.Warnings.DESCRIPTOR.values}
    assert ours == apdu_document.warnings()
    assert len(ours) == 210


def test_the_python_keyword_field_from_is_reachable_by_name():
    # kotodian-apdu 8: ChargingSchedule.PeriodType.from clashes with the keyword, not with protobuf.
    period = charger_pb2.ChargingSchedule.PeriodType(**{"from": 1700000000, "limit": 32, "to": 1700003600})
    assert getattr(period, "from") == 1700000000
