"""A paginator for tables too big to count."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

# Counting this many rows is cheap; past it the planner's estimate stands in for the count.
EXACT_COUNT_LIMIT = 10_000


class EstimatedCountPaginator(Paginator):
    """Counts exactly up to EXACT_COUNT_LIMIT rows (a COUNT over a LIMITed subquery, so the work is
    bounded), and beyond that takes PostgreSQL's estimate: the table's reltuples when nothing is
    filtered, EXPLAIN's row estimate otherwise. ``estimated`` says which one the page shows."""

    estimated = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        bounded = queryset.order_by()[: EXACT_COUNT_LIMIT + 1].count()
        if bounded <= EXACT_COUNT_LIMIT:
            return bounded
        self.estimated = True
        return max(self._estimate(queryset), bounded)

    @staticmethod
    def _estimate(queryset) -> int:
        connection = connections[queryset.db]
        query = queryset.order_by().query
        with connection.cursor() as cursor:
            if not query.where:
                # Kept current by autovacuum's ANALYZE; -1 means "never analysed".
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
                )
                row = cursor.fetchone()
                if row and row[0] >= 0:
                    return row[0]
            sql, params = query.sql_with_params()
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
            if isinstance(plan, str):
                plan = json.loads(plan)
            return int(plan[0]["Plan"]["Plan Rows"])
