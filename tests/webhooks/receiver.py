"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that checks every delivery's
signature as an integrator would (docs/webhooks.md), records what it got and when, and answers
500 to the first attempt of the event types it is told to refuse once."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    at: float  # time.monotonic() on arrival
    event: dict
    headers: dict
    answered: int


@dataclass
class Receiver:
    secret: str = ""
    refuse_once: set = field(default_factory=set)
    got: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    url: str = ""

    def verified(self, headers, body: bytes) -> bool:
        timestamp = headers.get("X-Evchong-Timestamp", "")
        expected = "sha256=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        return fresh and hmac.compare_digest(expected, headers.get("X-Evchong-Signature", ""))

    def events(self, answered: int = 200) -> list[dict]:
        return [r.event for r in self.got if r.answered == answered]

    def wait_for(self, event_type: str, timeout: float = 5.0, count: int = 1) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.got if r.event["type"] == event_type and r.answered == 200]
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"no {event_type} within {timeout} s; got {[r.event['type'] for r in self.got]}")


def serve(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if not receiver.verified(self.headers, body):
                receiver.bad_signatures += 1
                self.send_response(401)
                self.end_headers()
                return
            event = json.loads(body)
            answered = 200
            if event["type"] in receiver.refuse_once:
                receiver.refuse_once.discard(event["type"])
                answered = 500
            receiver.got.append(Received(time.monotonic(), event, dict(self.headers), answered))
            self.send_response(answered)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    return server
