from django.contrib import admin

from operations.admin_filters import choices_filter
from operations.admin_mixins import BigTableMixin, ExactSearchMixin, MirrorMixin
from smartcharging.choices import ChargingProfileKind, ChargingProfilePurpose
from smartcharging.models import ChargingProfile


@admin.register(ChargingProfile)
class ChargingProfileAdmin(MirrorMixin, BigTableMixin, ExactSearchMixin, admin.ModelAdmin):
    """Profiles change by sending SetChargingProfile or ClearChargingProfile from the box's page."""

    list_display = ["box", "connector_id", "charging_profile_id", "purpose", "stack_level", "kind", "recurrency",
                    "valid_from", "valid_to", "transaction_id", "installed_at"]
    list_filter = [choices_filter("purpose", ChargingProfilePurpose.values),
                   choices_filter("kind", ChargingProfileKind.values)]
    search_numbers = ["charging_profile_id", "transaction_id"]
    search_texts = ["box__serial"]
    list_select_related = ["box"]
