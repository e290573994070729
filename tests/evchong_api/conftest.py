from urllib.parse import urlencode

import orjson
import pytest
from django.test import Client

BASE = "/evchong-api/cperent/v1/"


class EvchongClient:
    """Sends a request the way boxes do: `data=` + JSON, in one of several envelopes."""

    def __init__(self):
        self.http = Client()

    def post(self, method, body, envelope="form", **headers):
        text = body if isinstance(body, str) else orjson.dumps(body).decode()
        if envelope == "form":  # application/x-www-form-urlencoded, data=<url-encoded JSON>
            return self.http.post(BASE + method, urlencode({"data": text}),
                                  content_type="application/x-www-form-urlencoded", **headers)
        if envelope == "raw-data":  # data={...} as printed in the spec, not URL-encoded
            return self.http.post(BASE + method, "data=" + text, content_type="text/plain", **headers)
        if envelope == "json":
            return self.http.post(BASE + method, text, content_type="application/json", **headers)
        if envelope == "multipart":
            return self.http.post(BASE + method, {"data": text}, **headers)
        raise ValueError(envelope)


@pytest.fixture
def evchong(db):
    return EvchongClient()


@pytest.fixture
def spec_world(make_box, make_tag):
    """The boxes and tags the spec's examples name (EVCHONG 2.1-2.8)."""
    for serial in ("mmmmm", "ooooo", "xxxxx"):
        make_box(serial, connectors=1)
    make_tag("xxxxxx")
    make_tag("xxxx")
    make_tag("mmmmm")
    make_tag("ooooo")
    make_tag("xxxxx")
