"""Webhook endpoints over the REST API: GET/POST /api/v1/webhooks, GET/PUT/DELETE
/api/v1/webhooks/{id}, GET /api/v1/webhooks/{id}/deliveries, POST /api/v1/webhooks/{id}/test.
The secret is shown when the endpoint is created (or given), never again."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, get_object_or_404
from rest_framework.response import Response

from commands.permissions import HasModelPermission
from core.api_answers import Present
from operations.api.common import FilteredList, answers, listing
from webhooks.models import Delivery, DeliveryState, Endpoint, EventType
from webhooks.addresses import endpoint_url_problem
from webhooks.services import deliveries_create, subscriptions

PERMISSIONS = {"GET": "webhooks.view_endpoint", "POST": "webhooks.add_endpoint", "PUT": "webhooks.change_endpoint",
               "DELETE": "webhooks.delete_endpoint"}
SUBSCRIBABLE = [value for value in EventType.values if value != EventType.TEST]


class EndpointOut(Present, serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(SUBSCRIBABLE), help_text="empty: every event")

    class Meta:
        model = Endpoint
        fields = ["id", "url", "events", "description", "active", "created"]


class EndpointCreatedOut(EndpointOut):
    class Meta(EndpointOut.Meta):
        fields = EndpointOut.Meta.fields + ["secret"]


class EndpointIn(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(child=serializers.ChoiceField(SUBSCRIBABLE), default=list,
                                   help_text="the event types to send; empty: all")
    description = serializers.CharField(max_length=200, default="", allow_blank=True)
    active = serializers.BooleanField(default=True)
    secret = serializers.CharField(min_length=16, max_length=100, required=False,
                                   help_text="the HMAC-SHA256 key; made up when not given")

    def validate_url(self, url: str) -> str:
        if (problem := endpoint_url_problem(url)) is not None:
            raise serializers.ValidationError(problem)
        return url

    def validate_events(self, events: list[str]) -> list[str]:
        return sorted(set(events))


class DeliveryOut(Present, serializers.ModelSerializer):
    eventId = serializers.UUIDField(source="event_id")
    eventType = serializers.CharField(source="event_type")
    responseStatus = serializers.IntegerField(source="response_status", allow_null=True)
    latencyMs = serializers.IntegerField(source="latency_ms", allow_null=True)
    lastAttempt = serializers.DateTimeField(source="last_attempt", allow_null=True)
    delivered = serializers.DateTimeField(allow_null=True)

    class Meta:
        model = Delivery
        fields = ["id", "eventId", "eventType", "state", "attempts", "responseStatus", "latencyMs", "error",
                  "created", "lastAttempt", "delivered"]


class DeliveryFilters(serializers.Serializer):
    state = serializers.ChoiceField(DeliveryState.values, required=False)
    eventType = serializers.ChoiceField(EventType.values, required=False)


def _saved(endpoint: Endpoint) -> None:
    endpoint.save()
    subscriptions.forget()  # this process at once; the others within WEBHOOK_SUBSCRIPTIONS_TTL


@listing(None, EndpointOut, "Webhook endpoints, newest first")
class EndpointsView(FilteredList):
    serializer_class = EndpointOut
    required_permissions = PERMISSIONS

    def base_queryset(self):
        return Endpoint.objects.all()

    @extend_schema(request=EndpointIn, summary="Register a webhook endpoint",
                   responses=answers({201: EndpointCreatedOut}, bad_input=True))
    def post(self, request):
        incoming = EndpointIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        endpoint = Endpoint(**incoming.validated_data)
        _saved(endpoint)
        return Response(EndpointCreatedOut(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointView(GenericAPIView):
    permission_classes = [HasModelPermission]
    required_permissions = PERMISSIONS
    serializer_class = EndpointOut
    queryset = Endpoint.objects.all()

    @extend_schema(summary="A webhook endpoint", responses=answers({200: EndpointOut}, not_found=True))
    def get(self, request, pk: int):
        return Response(EndpointOut(self.get_object()).data)

    @extend_schema(request=EndpointIn, summary="Replace a webhook endpoint (the secret stays unless given)",
                   responses=answers({200: EndpointOut}, bad_input=True, not_found=True))
    def put(self, request, pk: int):
        endpoint = self.get_object()
        incoming = EndpointIn(data=request.data)
        incoming.is_valid(raise_exception=True)
        for name, value in incoming.validated_data.items():
            setattr(endpoint, name, value)
        _saved(endpoint)
        return Response(EndpointOut(endpoint).data)

    @extend_schema(summary="Remove a webhook endpoint and its delivery log",
                   responses=answers({204: None}, not_found=True))
    def delete(self, request, pk: int):
        self.get_object().delete()
        subscriptions.forget()
        return Response(status=status.HTTP_204_NO_CONTENT)


@listing(DeliveryFilters, DeliveryOut, "An endpoint's deliveries, newest first", not_found=True)
class DeliveriesView(FilteredList):
    serializer_class = DeliveryOut
    filters = DeliveryFilters
    lookups = {"state": "state", "eventType": "event_type"}
    required_permissions = {"GET": "webhooks.view_delivery"}

    def base_queryset(self):
        return Delivery.objects.filter(endpoint=get_object_or_404(Endpoint, pk=self.kwargs["pk"]))


class EndpointTestView(GenericAPIView):
    permission_classes = [HasModelPermission]
    required_permissions = {"POST": "webhooks.change_endpoint"}
    serializer_class = DeliveryOut
    queryset = Endpoint.objects.all()

    @extend_schema(request=None, summary="Send a test event to an endpoint",
                   responses=answers({202: DeliveryOut}, not_found=True))
    def post(self, request, pk: int):
        endpoint = self.get_object()
        with transaction.atomic():
            delivery, = deliveries_create(event_type=EventType.TEST, occurred=timezone.now().isoformat(),
                                          data={"message": f"test event sent by {request.user.get_username()}"},
                                          endpoints=[endpoint])
        delivery.refresh_from_db()
        return Response(DeliveryOut(delivery).data, status=status.HTTP_202_ACCEPTED)
