"""Database work for async views that go on to wait a long time (for a box's answer)."""

from functools import wraps

from asgiref.sync import sync_to_async
from django.db import connection


def releasing_connection(function):
    """``function`` run in a thread, its connection handed back to the pool as soon as it returns.

    Django keeps a request's connection until the request ends, and a reverse call's request lasts
    as long as the box takes to answer: a hundred waiting callers would hold the whole pool, and
    the consumers recording the boxes' answers would starve (docs/performance.md). Inside an
    atomic block (a test's transaction) the connection stays: closing it would end that block.
    """

    @wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            if not connection.in_atomic_block:
                connection.close()

    return sync_to_async(run)
