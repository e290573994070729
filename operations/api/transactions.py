"""Sessions across boxes: GET /api/v1/transactions (by box, id tag, start time and state), and the
same list as CSV, with the admin's columns (operations.exports), at /api/v1/transactions.csv."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView, get_object_or_404

from commands.permissions import HasModelPermission
from core.api_answers import Present
from operations.api.common import CsvDownload, FilteredList, answers, listing
from operations.exports import METER_VALUE_COLUMNS, SESSION_COLUMNS, csv_response
from transactions.api import SessionOut
from transactions.models import MeterValue, Transaction



class SessionListOut(Present, SessionOut):
    """A session as GET /api/v1/boxes/{serial}/transactions lists it."""


VIEW_SESSIONS = {"GET": "transactions.view_transaction"}

# "from" is a Python keyword: the class is built from a dict of its fields.
TransactionFilters = type("TransactionFilters", (serializers.Serializer,), {
    "box": serializers.CharField(required=False, help_text="the box's serial"),
    "idTag": serializers.CharField(required=False, help_text="the id tag that started the session"),
    "from": serializers.DateTimeField(required=False, help_text="started at or after (ISO 8601)"),
    "to": serializers.DateTimeField(required=False, help_text="started before (ISO 8601)"),
    "state": serializers.ChoiceField(["active", "stopped"], required=False,
                                     help_text="active: still running; stopped: ended"),
})


class SessionQuery:
    """The filters of a session list, for the JSON list and its CSV alike."""

    filters = TransactionFilters
    lookups = {"box": "box__serial", "idTag": "id_tag", "from": "started_at__gte", "to": "started_at__lt"}

    def narrow(self, queryset: QuerySet, values: dict) -> QuerySet:
        if "state" in values:
            queryset = queryset.filter(stopped_at__isnull=values["state"] == "active")
        return queryset

    def base_queryset(self) -> QuerySet:
        return Transaction.objects.select_related("box", "connector", "cost")


@listing(TransactionFilters, SessionListOut, "Sessions, newest first")
class TransactionsView(SessionQuery, FilteredList):
    serializer_class = SessionListOut
    required_permissions = VIEW_SESSIONS


class TransactionsCsvView(CsvDownload, SessionQuery, FilteredList):
    """The same sessions as CSV, all of them (no pages), streamed."""

    required_permissions = VIEW_SESSIONS

    @extend_schema(parameters=[TransactionFilters], summary="Sessions as CSV, newest first",
                   responses=answers({(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV")},
                                     bad_input=True))
    def get(self, request, *args, **kwargs):
        return csv_response(self.filtered().order_by("-id"), SESSION_COLUMNS, "sessions.csv")


class MeterValuesCsvView(CsvDownload, GenericAPIView):
    """A session's meter values as CSV, as the admin offers them."""

    permission_classes = [HasModelPermission]
    required_permissions = {"GET": "transactions.view_metervalue"}
    queryset = Transaction.objects.all()

    @extend_schema(summary="A session's meter values as CSV",
                   responses=answers({(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV")},
                                     not_found=True))
    def get(self, request, pk: int):
        tx = get_object_or_404(Transaction, pk=pk)
        queryset = MeterValue.objects.filter(transaction=tx).order_by("timestamp", "id")
        return csv_response(queryset, METER_VALUE_COLUMNS, f"session-{tx.pk}-meter-values.csv")
