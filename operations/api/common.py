"""What every list and edit of the REST API shares: filters read from the query string by a
serializer (a bad value is a 400 naming the parameter), newest-first cursor pages, the error
bodies that the OpenAPI description promises."""

from __future__ import annotations

import json

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from commands.permissions import HasModelPermission
from core.pagination import NewestFirst


class DetailOut(serializers.Serializer):
    detail = serializers.CharField()


class UnavailableOut(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.CharField()


# {"field": ["problem", ...]}: DRF's form of a validation error, the parameter or field named.
FIELD_ERRORS = OpenApiResponse(
    response={"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    description="bad input: each offending field or query parameter with its problems",
)
# Every endpoint may answer these (core.api_errors for 503).
COMMON_ERRORS = {
    401: OpenApiResponse(DetailOut, description="no or unknown token"),
    403: OpenApiResponse(DetailOut, description="the user's role does not allow this"),
    503: OpenApiResponse(UnavailableOut, description="the database or Redis cannot be reached; retry later"),
}
NOT_FOUND = OpenApiResponse(DetailOut, description="no such object")


def answers(ok: dict, *, bad_input: bool = False, not_found: bool = False, conflict: str = "") -> dict:
    """The responses of an operation for extend_schema: ``ok`` (status code to body) and the
    errors it may answer; ``conflict``: when it answers 409."""
    codes = {**ok, **COMMON_ERRORS}
    if bad_input:
        codes[400] = FIELD_ERRORS
    if not_found:
        codes[404] = NOT_FOUND
    if conflict:
        codes[409] = OpenApiResponse(DetailOut, description=conflict)
    return codes


class FilteredList(ListAPIView):
    """A paginated list narrowed by query parameters. ``filters`` is a serializer of the query
    string; ``lookups`` maps each of its fields to the ORM lookup it filters on, so a new filter is
    one field and one entry; ``narrow`` may add what a lookup cannot say."""

    permission_classes = [HasModelPermission]
    pagination_class = NewestFirst
    filters: type[serializers.Serializer] | None = None
    lookups: dict[str, str] = {}
    required_permissions: dict[str, str]

    def base_queryset(self) -> QuerySet:
        """What the list starts from, before the filters: the view's ``queryset``, unless a list
        overrides this (to select or annotate what it renders)."""
        return self.queryset.all()

    def filter_values(self) -> dict:
        if self.filters is None:
            return {}
        incoming = self.filters(data=self.request.query_params)
        incoming.is_valid(raise_exception=True)
        return incoming.validated_data

    def narrow(self, queryset: QuerySet, values: dict) -> QuerySet:
        return queryset

    def filtered(self) -> QuerySet:
        values = self.filter_values()
        queryset = self.base_queryset().filter(
            **{self.lookups[name]: value for name, value in values.items() if name in self.lookups})
        return self.narrow(queryset, values)

    def get_queryset(self):
        return self.filtered()


def listing(filters: type[serializers.Serializer] | None, out: type[serializers.Serializer], summary: str, *,
            not_found: bool = False):
    """extend_schema for a FilteredList: its query parameters, its page of ``out``, its errors
    (``not_found``: the list belongs to an object in the path, which may not exist)."""
    return extend_schema(parameters=[filters] if filters else [], summary=summary,
                         responses=answers({200: out(many=True)}, bad_input=filters is not None, not_found=not_found))


class CsvRenderer(BaseRenderer):
    """Lets a client ask for text/csv (DRF answers 406 to an Accept it has no renderer for). The
    download itself is a streamed response that no renderer touches (operations.exports)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode()


class CsvDownload:
    """A view answering CSV, or JSON when it answers an error (a 400 naming the parameter)."""

    renderer_classes = [JSONRenderer, CsvRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):  # not the stream: an error, said in JSON whatever was asked
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
