from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from operations.admin_mixins import BigTableMixin, RecordMixin
from webhooks.models import Delivery, Endpoint, EventType
from webhooks.services import deliveries_create, subscriptions


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=[c for c in EventType.choices if c[0] != EventType.TEST], required=False,
        widget=forms.CheckboxSelectMultiple, help_text="none ticked: every event")

    class Meta:
        model = Endpoint
        fields = ["url", "events", "description", "active", "secret"]


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = ["url", "event_list", "active", "description", "created"]
    list_filter = ["active"]
    actions = ["send_test_event"]

    @admin.display(description="events")
    def event_list(self, endpoint):
        return ", ".join(endpoint.events) or "all"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        subscriptions.forget()  # this process sees the change at once, the others within the TTL

    @admin.action(description="Send a test event")
    def send_test_event(self, request, queryset):
        with transaction.atomic():
            made = deliveries_create(event_type=EventType.TEST, occurred=timezone.now().isoformat(),
                                     data={"message": f"test event sent by {request.user.get_username()}"},
                                     endpoints=list(queryset))
        self.message_user(request, f"{len(made)} test event(s) queued; see the deliveries", messages.SUCCESS)


@admin.register(Delivery)
class DeliveryAdmin(RecordMixin, BigTableMixin, admin.ModelAdmin):
    list_display = ["id", "created", "endpoint", "event_type", "state", "attempts", "response_status", "latency_ms",
                    "error"]
    list_filter = ["state", "event_type", "endpoint"]
    list_select_related = ["endpoint"]
    search_fields = ["=event_id"]
