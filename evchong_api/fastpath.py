"""The forward API's lean path: EVCHONG requests answered straight from ASGI, in front of Django.

Through Django, a forward request crossed seven middlewares that each ran in a thread of its own
(session, CSRF, messages, ... none of which a charge box uses), plus the request_started and
request_finished signals, and then DRF's request machinery: a dozen thread hops and a new thread
per request, and most of the time per request (docs/adr/0010). Here the body is read on the event
loop and the request handed to the forward API's writer threads (evchong_api.edge, through the
inbound pipeline), which parse, validate and do the database work of whatever requests are waiting
in one transaction. The handler table, the answers and the error bodies are those the DRF views
use too (evchong_api.views); only the entrance differs. Anything else goes on to
Django untouched: other paths and methods, and multipart bodies (rare from boxes), which Django's
multipart parser reads.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import orjson
from django.conf import settings

from evchong_api.edge import EDGE, INTERNAL_ERROR, PREFIX, writers
from evchong_api.guard import forward_counted, forward_refusal
from evchong_api.handlers import METHODS
from evchong_api.parsing import EnvelopeError
from inbound.edge import Message
from security.clients import address_of_scope

METHODS_BY_PATH = {PREFIX + name: name for name in METHODS}
JSON_HEADERS = [(b"content-type", b"application/json"), (b"x-content-type-options", b"nosniff")]

logger = logging.getLogger("django.request")  # where Django reports the 500s of the other path


class ForwardAPI:
    """ASGI middleware: serves POSTs to the forward methods, hands everything else to ``app``."""

    def __init__(self, app, submit=None):
        self.app = app
        self.submit = submit or (lambda message: writers().submit(message))

    async def __call__(self, scope, receive, send):
        method = METHODS_BY_PATH.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        content_type, authorization = b"", b""
        if method is not None:
            for name, value in scope["headers"]:
                if name == b"content-type":
                    content_type = value
                elif name == b"authorization":
                    authorization = value
        if method is None or content_type[:10].lower() == b"multipart/":
            return await self.app(scope, receive, send)
        body = await read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if body is None:
            return  # the client went away
        source, credentials = address_of_scope(scope), authorization.decode("latin-1")
        refusal = await forward_refusal(source, credentials)
        if refusal is not None:
            return await send_json(send, *refusal)
        message = Message(EDGE, body, action=method, credentials=credentials, answers=True)
        try:
            message = await self.submit(message)
        except Exception:
            # The writers could not say whether the request was stored (core.groupcommit): not
            # acknowledged, so that the box sends it again, in the API's own error form.
            logger.exception("Internal Server Error: %s%s", PREFIX, method)
            return await send_json(send, *INTERNAL_ERROR)
        await send_json(send, *message.reply)
        await forward_counted(source, credentials, message)


async def send_json(send, code: int, answer: dict, headers: dict) -> None:
    """An ASGI answer of both lean paths: ``answer`` as JSON, with ``headers`` besides."""
    content = orjson.dumps(answer)
    await send({"type": "http.response.start", "status": code, "headers": [
        *JSON_HEADERS, (b"content-length", str(len(content)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in headers.items()),
    ]})
    await send({"type": "http.response.body", "body": content})


# The loop's default executor, sized with ASGI_THREADS (below DB_POOL_MAX, docs/performance.md):
# the reverse API's calls that wait on PostgreSQL run there. daphne sets one so itself; uvicorn sets
# none, and Python's default of cores + 4 (6 threads here) is too few for calls that mostly wait.
_sized_loops: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def size_default_executor() -> None:
    loop = asyncio.get_running_loop()
    if loop not in _sized_loops:
        _size_default_executor(loop)


def _size_default_executor(loop) -> None:
    _sized_loops[loop] = True
    if getattr(loop, "_default_executor", None) is not None:  # asyncio's, as daphne set it (uvloop hides it)
        return
    threads = int(os.environ.get("ASGI_THREADS") or 32)
    loop.set_default_executor(ThreadPoolExecutor(max_workers=threads, thread_name_prefix="asgi"))


async def read_body(receive, limit: int | None) -> bytes | EnvelopeError | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            # Keep reading nothing more into memory; the request is refused as it is.
            return EnvelopeError(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)
