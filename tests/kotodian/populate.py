"""Builds a protobuf message with every field set to a value that is not the default, so that a
round trip proves each field survives (proto3 leaves default values off the wire)."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.message import Message

F = FieldDescriptor


def scalar(field: FieldDescriptor, seed: int):
    if field.enum_type is not None:
        return field.enum_type.values[-1].number  # the last value is non-zero in every enum with more than one
    if field.type == F.TYPE_STRING:
        return f"{field.name}-{seed}"
    if field.type == F.TYPE_BYTES:
        return bytes([field.number, seed % 256, 0xFF])
    if field.type == F.TYPE_BOOL:
        return True
    if field.type == F.TYPE_DOUBLE:
        return field.number + seed + 0.25
    if field.type in (F.TYPE_INT32, F.TYPE_INT64):
        return -(field.number * 1000 + seed)  # negative: ten varint bytes on the wire
    return field.number * 1000 + seed  # uint32, uint64


def populated(cls: type[Message], depth: int = 3, seed: int = 1) -> Message:
    message = cls()
    for field in cls.DESCRIPTOR.fields:
        target = getattr(message, field.name) if field.is_repeated else None
        map_entry = field.message_type is not None and field.message_type.GetOptions().map_entry
        if map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is not None:
                if depth:
                    value_class = GetMessageClass(value_field.message_type)
                    target[f"key-{seed}"].CopyFrom(populated(value_class, depth - 1, seed))
            else:
                target[f"key-{seed}"] = scalar(value_field, seed)
        elif field.message_type is not None:
            if not depth:
                continue
            if field.is_repeated:
                for n in range(2):
                    target.add().CopyFrom(populated(GetMessageClass(field.message_type), depth - 1, seed + n))
            else:
                getattr(message, field.name).CopyFrom(populated(GetMessageClass(field.message_type), depth - 1, seed))
        elif field.is_repeated:
            target.extend([scalar(field, seed), scalar(field, seed + 1)])
        else:
            setattr(message, field.name, scalar(field, seed))
    return message
