"""What the APIs' answer serializers share."""

from __future__ import annotations


class Present:
    """Mixed into an answer's serializer: every field is in every answer (null where it says
    nullable), so the OpenAPI description lists each as required; model fields with defaults
    would otherwise read as optional."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.read_only = True
        return fields
