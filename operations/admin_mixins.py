from django.contrib.admin import ShowFacets
from django.db.models import Q

from operations.paginators import EstimatedCountPaginator


class BigTableMixin:
    """For ModelAdmins of tables that grow without bound: no COUNT(*) of the whole table (the
    paginator bounds its count, the "N total" count is off) and no per-filter facet counts."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER


class RecordMixin:
    """For rows the system writes and the admin only shows (file transfers, campaign targets,
    webhook deliveries, the audit trail): every field read-only, none added or changed by hand."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MirrorMixin(RecordMixin):
    """For rows that say what a box holds because it accepted a command (reservations, local lists,
    charging profiles): only the box's answers write them (commands.effects). Read-only here, since a
    row edited or deleted by hand would no longer say what the box holds; send the box a command."""

    def has_delete_permission(self, request, obj=None):
        return False


class ExactSearchMixin:
    """A search the indexes can answer: the term must equal one of ``search_numbers`` (when it is
    a number) or ``search_texts``. Django's own "=field" is case-insensitive, UPPER(field) = UPPER(term),
    which no plain index serves, and on an integer it casts every row's id to text."""

    search_numbers: list[str] = []
    search_texts: list[str] = []

    def get_search_fields(self, request):
        return self.search_numbers + self.search_texts  # only shows the search box

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        wanted = Q(pk__in=[])
        if term.isdigit() and int(term) < 2**31:
            for lookup in self.search_numbers:
                wanted |= Q(**{lookup: int(term)})
        for lookup in self.search_texts:
            relation, _, field = lookup.partition("__")
            if field:
                # Resolve the related rows first: a condition on a joined table cannot be OR-ed
                # with the other indexed conditions, and the whole table would be scanned.
                related = queryset.model._meta.get_field(relation).related_model
                matches = related.objects.filter(**{field: term}).values_list("pk", flat=True)[:1000]
                wanted |= Q(**{f"{relation}__in": list(matches)})
            else:
                wanted |= Q(**{lookup: term})
        return queryset.filter(wanted), False
