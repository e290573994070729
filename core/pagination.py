"""The APIs' one way of paging a list: newest first, by an opaque cursor ({results, next})."""

from __future__ import annotations

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class NewestFirst(CursorPagination):
    """``{"results": [...], "next": url | null}`` (DESIGN.md §3): a cursor, so that a box with years of
    sessions pages as fast as a new one, and no COUNT of the table."""

    ordering = "-id"
    page_size = 50

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {"type": "object", "required": ["results", "next"], "properties": {
            "results": schema, "next": {"type": "string", "format": "uri", "nullable": True}}}

    def decode_cursor(self, request):
        # DRF answers a cursor it cannot read with 404, as if the list were gone: it is the query
        # parameter that is wrong, a 400 that names it.
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None
