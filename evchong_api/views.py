"""The forward API's DRF views (EVCHONG 2.1-2.8): Django's entrance for the bodies the ASGI lean
path leaves to it (multipart forms), and the URL conf's record of the methods. Both entrances run
the same code: the request goes through the inbound pipeline with the edge's handler table
(evchong_api.edge, evchong_api.handlers)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from evchong_api.edge import EDGE
from evchong_api.errors import exception_handler
from evchong_api.guard import forward_counted_sync, forward_refusal_sync
from evchong_api.handlers import METHODS
from evchong_api.parsing import AnyAccept, ChunkedBody, EnvelopeError, EvchongParser, parse_json
from inbound.edge import Message
from inbound.pipeline import batch_write
from security.clients import address_of_request


@extend_schema(exclude=True)
class ForwardView(ChunkedBody, APIView):
    """One forward method (``method``), answered as the lean path answers it."""

    method = ""
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser, EvchongParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAccept

    def get_exception_handler(self):
        return exception_handler

    def post(self, request):
        source, credentials = address_of_request(request), request.META.get("HTTP_AUTHORIZATION", "")
        refusal = forward_refusal_sync(source, credentials)
        if refusal is not None:
            status, answer, headers = refusal
            return Response(answer, status=status, headers=headers)
        message = Message(EDGE, self.document(request), action=self.method, answers=True, credentials=credentials)
        batch_write([message], bulk=False)  # a batch of one, in this request's thread
        forward_counted_sync(source, credentials, message)
        status, answer, headers = message.reply
        return Response(answer, status=status, headers=headers)

    @staticmethod
    def document(request) -> dict:
        data = request.data
        if not data and not int(request.META.get("CONTENT_LENGTH") or 0):
            # DRF hands an empty body to no parser at all.
            raise EnvelopeError("the request body is empty; expected data={...} or a JSON object")
        if isinstance(data, dict) and not hasattr(data, "getlist"):
            return data
        # multipart/form-data: the JSON is the "data" field
        field = data.get("data") if data is not None else None
        if not field:
            raise EnvelopeError("no data field in the form; expected data={...}")
        return parse_json(field)


VIEWS = {name: ForwardView.as_view(method=name) for name in METHODS}
