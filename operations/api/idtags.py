"""Id tags: list, create, read, update (PUT replaces, PATCH changes the fields given), block, delete,
and bulk import as CSV or JSON. Every write goes through operations.idtag_import's rules, the ones
the admin's CSV import applies. Authorize reads the table on every request (chargers.services
idtag_authorize: no cache), so a tag created or blocked here is in the box's next answer."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import OpenApiRequest, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.response import Response

from chargers.choices import AuthorizationStatus
from chargers.models import IdTag
from commands.permissions import HasModelPermission
from core.api_answers import Present
from operations.api.common import FilteredList, answers, listing
from operations.idtag_import import COLUMNS, STORED_STATUSES, idtags_import, idtags_save

# The API's names of the import's columns.
FIELDS = {"idTag": "id_tag", "status": "status", "expiry": "expiry", "parent": "parent", "note": "note"}
NAME_OF = {column: name for name, column in FIELDS.items()}
PERMISSIONS = {"GET": "chargers.view_idtag", "POST": "chargers.add_idtag", "PUT": "chargers.change_idtag",
               "PATCH": "chargers.change_idtag", "DELETE": "chargers.delete_idtag"}


class IdTagOut(Present, serializers.ModelSerializer):
    idTag = serializers.CharField(source="id_tag")
    status = serializers.ChoiceField(STORED_STATUSES)
    expiry = serializers.DateTimeField(allow_null=True)
    parent = serializers.CharField(source="parent.id_tag", allow_null=True, default=None)

    class Meta:
        model = IdTag
        fields = ["idTag", "status", "expiry", "parent", "note", "created"]


class IdTagIn(serializers.Serializer):
    """Types only: what a tag may hold is operations.idtag_import's to say."""

    idTag = serializers.CharField(required=False, trim_whitespace=False)
    status = serializers.ChoiceField(STORED_STATUSES, required=False, help_text="default Accepted")
    expiry = serializers.CharField(required=False, allow_null=True, allow_blank=True,
                                   help_text="ISO 8601; null: never expires")
    parent = serializers.CharField(required=False, allow_null=True, allow_blank=True,
                                   help_text="the group's id tag; null: none")
    note = serializers.CharField(required=False, allow_blank=True)


class IdTagFilters(serializers.Serializer):
    status = serializers.ChoiceField(STORED_STATUSES, required=False)
    parent = serializers.CharField(required=False, help_text="members of this group tag")


class ImportOut(Present, serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


class ImportErrorsOut(Present, serializers.Serializer):
    errors = serializers.ListField(child=serializers.CharField(), help_text="nothing was saved")


class CsvText(BaseParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            # utf-8-sig: spreadsheets put a byte-order mark first.
            return stream.read().decode("utf-8-sig")
        except UnicodeDecodeError as problem:
            raise ParseError(f"the CSV is not UTF-8: {problem}") from None


def _row_of(data: dict) -> dict:
    return {FIELDS[name]: value for name, value in data.items() if name in FIELDS}


def _row_held(tag: IdTag) -> dict:
    return {"id_tag": tag.id_tag, "status": tag.status, "expiry": tag.expiry.isoformat() if tag.expiry else "",
            "parent": tag.parent.id_tag if tag.parent else "", "note": tag.note}


def _save_one(row: dict) -> None:
    """Save one tag or answer 400 with each problem under the field's API name."""
    result = idtags_save(rows=[("", row)])
    if result.problems:
        errors: dict[str, list[str]] = {}
        for _, column, message in result.problems:
            errors.setdefault(NAME_OF[column], []).append(message)
        raise ValidationError(errors)


def _out(id_tag: str) -> dict:
    return IdTagOut(IdTag.objects.select_related("parent").get(id_tag=id_tag)).data


@listing(IdTagFilters, IdTagOut, "Id tags, newest first")
class IdTagsView(FilteredList):
    serializer_class = IdTagOut
    filters = IdTagFilters
    lookups = {"status": "status", "parent": "parent__id_tag"}
    required_permissions = PERMISSIONS

    def base_queryset(self):
        return IdTag.objects.select_related("parent")

    @extend_schema(request=IdTagIn, summary="Create an id tag",
                   responses=answers({201: IdTagOut}, bad_input=True, conflict="the id tag exists"))
    def post(self, request):
        incoming = IdTagIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        if "idTag" not in incoming.validated_data:
            raise ValidationError({"idTag": ["This field is required."]})
        row = _row_of(incoming.validated_data)
        with transaction.atomic():
            # Two creates of one tag racing both pass this check: the later one's fields win, as
            # two imports' would (idtags_save upserts).
            if IdTag.objects.filter(id_tag=row["id_tag"]).exists():
                return Response({"detail": f"id tag {row['id_tag']!r} exists"}, status=status.HTTP_409_CONFLICT)
            _save_one(row)
        return Response(_out(row["id_tag"]), status=status.HTTP_201_CREATED)


class IdTagView(GenericAPIView):
    permission_classes = [HasModelPermission]
    required_permissions = PERMISSIONS
    serializer_class = IdTagOut
    lookup_field = "id_tag"
    lookup_url_kwarg = "tag"
    queryset = IdTag.objects.select_related("parent")

    def get_object(self):
        # PostgreSQL refuses a NUL (%00 in the URL) even in a comparison: no such tag, not a 500.
        if "\x00" in self.kwargs["tag"]:
            raise Http404("no such id tag")
        return super().get_object()

    @extend_schema(summary="An id tag", responses=answers({200: IdTagOut}, not_found=True))
    def get(self, request, tag: str):
        return Response(IdTagOut(self.get_object()).data)

    @extend_schema(request=IdTagIn, summary="Replace an id tag: fields not given are cleared or default",
                   responses=answers({200: IdTagOut}, bad_input=True, not_found=True))
    def put(self, request, tag: str):
        return self._update(request, tag, partial=False)

    @extend_schema(request=IdTagIn, summary="Change the given fields of an id tag",
                   responses=answers({200: IdTagOut}, bad_input=True, not_found=True))
    def patch(self, request, tag: str):
        return self._update(request, tag, partial=True)

    def _update(self, request, tag: str, *, partial: bool):
        incoming = IdTagIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        if incoming.validated_data.get("idTag", tag) != tag:
            raise ValidationError({"idTag": ["an id tag cannot be renamed; create the new one"]})
        with transaction.atomic():
            held = self.get_object()
            IdTag.objects.select_for_update().filter(pk=held.pk).first()  # one update at a time
            row = {**(_row_held(held) if partial else {"id_tag": tag}), **_row_of(incoming.validated_data)}
            _save_one(row)
        return Response(_out(tag))

    @extend_schema(summary="Delete an id tag (its sessions keep its name)",
                   responses=answers({204: None}, not_found=True))
    def delete(self, request, tag: str):
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class IdTagBlockView(GenericAPIView):
    permission_classes = [HasModelPermission]
    required_permissions = {"POST": "chargers.change_idtag"}
    serializer_class = IdTagOut

    @extend_schema(request=None, summary="Block an id tag: Authorize answers Blocked from now on",
                   responses=answers({200: IdTagOut}, not_found=True))
    def post(self, request, tag: str):
        if "\x00" in tag or not IdTag.objects.filter(id_tag=tag).update(status=AuthorizationStatus.BLOCKED):
            return Response({"detail": f"no id tag {tag!r}"}, status=status.HTTP_404_NOT_FOUND)
        return Response(_out(tag))


class IdTagImportView(GenericAPIView):
    """All rows or none, as the admin's import (operations.idtag_import)."""

    permission_classes = [HasModelPermission]
    required_permissions = {"POST": "chargers.add_idtag"}
    parser_classes = [JSONParser, CsvText]
    serializer_class = ImportOut

    @extend_schema(
        summary="Create or update many id tags, all or none",
        description=f"CSV (Content-Type text/csv) with a header line naming the columns {', '.join(COLUMNS)} "
                    "(only id_tag required), or JSON: a list of objects with the fields of an id tag "
                    "(idTag required). Each row is the whole truth about its tag.",
        request={"text/csv": OpenApiRequest(str), "application/json": IdTagIn(many=True)},
        responses=answers({200: ImportOut, 400: OpenApiResponse(ImportErrorsOut, description="nothing saved")}))
    def post(self, request):
        data = request.data
        if isinstance(data, str):
            result = idtags_import(text=data)
        elif isinstance(data, list):
            rows = []
            for n, item in enumerate(data, start=1):
                incoming = IdTagIn(data=item) if isinstance(item, dict) else None
                if incoming is None or not incoming.is_valid():
                    problem = incoming.errors if incoming is not None else "not an object"
                    return Response({"errors": [f"item {n}: {problem}"]}, status=status.HTTP_400_BAD_REQUEST)
                rows.append((f"item {n}", _row_of(incoming.validated_data)))
            result = idtags_save(rows=rows)
        else:
            return Response({"errors": ["send a CSV file (text/csv) or a JSON list of id tags"]},
                            status=status.HTTP_400_BAD_REQUEST)
        if result.errors:
            return Response({"errors": result.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ImportOut(result).data)
