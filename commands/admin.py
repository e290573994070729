from django.contrib import admin

from commands.models import Command, CommandState
from commands.edges import command_actions
from operations.admin_filters import choices_filter
from operations.admin_mixins import BigTableMixin, ExactSearchMixin


@admin.register(Command)
class CommandAdmin(BigTableMixin, ExactSearchMixin, admin.ModelAdmin):
    list_display = ["id", "created", "box", "action", "state", "short_response", "error_code", "requested_by",
                    "source", "answered_at"]
    # Fixed choices: a SELECT DISTINCT over every command ever sent would scan the table.
    list_filter = [choices_filter("state", CommandState.values), choices_filter("action", command_actions),
                   choices_filter("source", ["reverse-api", "operations-api", "admin"])]
    search_numbers = ["pk"]
    search_texts = ["box__serial"]  # the box filter: type its serial
    raw_id_fields = ["box", "connector", "requested_by"]
    list_select_related = ["box", "requested_by"]
    readonly_fields = [f.name for f in Command._meta.fields]

    def has_add_permission(self, request):
        return False  # commands are sent through the box page's forms, which validate and deliver them

    @admin.display(description="answer")
    def short_response(self, command):
        return str(command.response)[:80] if command.response is not None else ""
