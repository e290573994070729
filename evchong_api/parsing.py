"""The EVCHONG request envelope, as real boxes send it (EVCHONG 2, examples).

The spec shows ``data={...}``. Boxes send that as a form field, as a raw body with or without
``data=``, URL-encoded or not, under any Content-Type, or as a JSON object's only member; each
scalar either plain or wrapped in an object of its own name (``"iccid":{"iccid":"x"}``,
``"idTag":{"idToken":"x"}``). This module turns all of those into one flat dict with the spec's
field names.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.parsers import BaseParser

# Lower-cased spelling as received -> the field name the serializers use.
ALIASES = {
    "idtoken": "idTag",
    "idtag": "idTag",
    "transcationid": "transactionId",  # the spec's own spelling (EVCHONG 2.7)
    "transactionid": "transactionId",
}
# Names a wrapped scalar may carry inside its wrapper, besides its own.
_SAME_THING = {"idtag": {"idtag", "idtoken"}, "idtoken": {"idtag", "idtoken"}}


class EnvelopeError(ParseError):
    """The body is not an EVCHONG request at all; reported against the field ``data``."""


def parse_body(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8").lstrip("\ufeff").strip()
    except UnicodeDecodeError:
        raise EnvelopeError("the request body is not UTF-8 text") from None
    if not text:
        raise EnvelopeError("the request body is empty; expected data={...} or a JSON object")
    if text.startswith("data="):
        rest = text[len("data=") :].lstrip()
        # Raw JSON after data= is taken as is: URL-decoding it would turn "+" into a space.
        payload = rest if rest.startswith("{") else _form_field(text)
    elif text.startswith("{"):
        payload = text
    else:
        payload = _form_field(text)
    return _data_member(parse_json(payload))


def _data_member(document: dict) -> dict:
    """Gateways that speak JSON write the spec's form field as a member: {"data": {...}} or
    {"data": "{...}"}. No method has a field of that name, so the member is the request."""
    if len(document) == 1 and "data" in document:
        inner = document["data"]
        if isinstance(inner, dict):
            return inner
        if isinstance(inner, str):
            return parse_json(inner)
    return document


def _form_field(text: str) -> str:
    values = parse_qs(text, keep_blank_values=True).get("data")
    if not values:
        raise EnvelopeError("no data field in the request; expected data={...} or a JSON object")
    return values[0]


# No request of the spec nests deeper than 4; DRF's validation recurses into whatever it is given,
# and a few hundred levels ended in a RecursionError (an HTTP 500).
MAX_DEPTH = 16


def parse_json(payload: str) -> dict:
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"data is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise EnvelopeError("data must be a JSON object")
    if _deeper_than(document, MAX_DEPTH):
        raise EnvelopeError(f"data is nested deeper than {MAX_DEPTH} levels")
    return document


def _deeper_than(document, limit: int) -> bool:
    level, layer = 0, [document]
    while layer:
        level += 1
        if level > limit:
            return True
        layer = [child for value in layer
                 for child in (value.values() if isinstance(value, dict) else value)
                 if isinstance(child, (dict, list))]
    return False


class EvchongParser(BaseParser):
    """Any Content-Type: boxes label the same body form, JSON or text."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return parse_body(stream.read() if stream is not None else b"")


class AnyAccept(BaseContentNegotiation):
    """The answer is JSON whatever the Accept header says: boxes send text/plain, text/html or
    their HTTP library's default, and must not get a 406 for it (DESIGN.md §3)."""

    def select_parser(self, request, parsers):
        return DefaultContentNegotiation().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ChunkedBody:
    """A view mixin for bodies sent with Transfer-Encoding: chunked (RFC 9112 §7.1), which have no
    Content-Length: DRF treats a request without one as empty. The ASGI server has read the whole
    body before the view runs, so reading it here costs no wait."""

    def initialize_request(self, request, *args, **kwargs):
        if not request.META.get("CONTENT_LENGTH") and request.method == "POST":
            request.META["CONTENT_LENGTH"] = str(len(request.body))
        return super().initialize_request(request, *args, **kwargs)


def flatten(document: dict, envelope: str | None = None) -> dict:
    """Unwrap the method's envelope (``authReq``) and every self-named scalar wrapper."""
    if envelope:
        inner = next((v for k, v in document.items() if k.lower() == envelope.lower()), None)
        if isinstance(inner, dict):
            document = inner
    flat: dict = {}
    for key, value in document.items():
        # The spec's tables capitalise some names (IdToken) that its examples do not.
        name = ALIASES.get(key.lower(), key[:1].lower() + key[1:])
        value = _unwrap(key, value)
        if name == "transactionId" and flat.get(name) not in ("", None):
            continue  # both spellings sent: the first non-empty one wins
        flat[name] = value
    if isinstance(flat.get("values"), list):
        flat["values"] = [flatten(v) if isinstance(v, dict) else v for v in flat["values"]]
    if isinstance(flat.get("transactionData"), dict):
        flat["transactionData"] = flatten(flat["transactionData"])
    return flat


def _unwrap(key: str, value):
    if isinstance(value, dict) and len(value) == 1:
        (inner_key, inner_value), = value.items()
        allowed = _SAME_THING.get(key.lower(), {key.lower()})
        if inner_key.lower() in allowed and not isinstance(inner_value, (dict, list)):
            return inner_value
    return value
