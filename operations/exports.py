"""CSV downloads streamed row by row: a session list or a session's meter values may run to millions
of rows, so nothing is collected in memory first."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from itertools import islice

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

# Rows per chunk sent to the client (and fetched per database round trip).
CHUNK_ROWS = 2000

SESSION_COLUMNS = [
    ("id", "id"), ("box", "box__serial"), ("connector", "connector__connector_id"), ("id_tag", "id_tag"),
    ("started_at", "started_at"), ("stopped_at", "stopped_at"), ("meter_start_wh", "meter_start_wh"),
    ("meter_stop_wh", "meter_stop_wh"), ("energy_wh", "energy_wh"), ("stop_reason", "stop_reason"),
    ("stop_id_tag", "stop_id_tag"),
    # The stored cost (tariffs.SessionCost); empty for a session without one.
    ("currency", "cost__currency"), ("cost_energy", "cost__energy"), ("cost_service", "cost__service"),
    ("cost_idle", "cost__idle"), ("cost_total", "cost__total"),
]
METER_VALUE_COLUMNS = [
    ("timestamp", "timestamp"), ("measurand", "measurand"), ("value", "value"), ("unit", "unit"),
    ("phase", "phase"), ("location", "location"), ("context", "context"), ("raw_value", "raw_value"),
    ("raw_unit", "raw_unit"),
]


class _Line:
    """csv.writer wants a file; this one hands back what it is given."""

    def write(self, text: str) -> str:
        return text


def _cell(value) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else value


async def _lines(header: Iterable[str], rows: AsyncIterator[tuple]) -> AsyncIterator[str]:
    writer = csv.writer(_Line())
    chunk = [writer.writerow(header)]
    async for row in rows:
        chunk.append(writer.writerow([_cell(v) for v in row]))
        if len(chunk) >= CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)


async def _rows(queryset) -> AsyncIterator[tuple]:
    """The queryset's rows, CHUNK_ROWS per database round trip, read through a server-side cursor.
    Not QuerySet.aiterator(): for values_list() it runs the query in the event loop's thread."""
    rows = None

    def next_chunk() -> list[tuple]:
        nonlocal rows
        if rows is None:
            rows = queryset.iterator(chunk_size=CHUNK_ROWS)
        return list(islice(rows, CHUNK_ROWS))

    while True:
        # Thread-sensitive: every chunk runs in this request's thread, on the cursor's connection.
        chunk = await sync_to_async(next_chunk)()
        for row in chunk:
            yield row
        if len(chunk) < CHUNK_ROWS:
            return


def csv_response(queryset, columns: list[tuple[str, str]], filename: str) -> StreamingHttpResponse:
    """Stream ``queryset`` as CSV. An async iterator, because Django under ASGI would read a sync
    one into memory in full before sending the first byte."""
    rows = _rows(queryset.values_list(*(source for _, source in columns)))
    response = StreamingHttpResponse(_lines([name for name, _ in columns], rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
