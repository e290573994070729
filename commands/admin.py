from django.contrib import admin

from commands.models import Command


@admin.register(Command)
class CommandAdmin(admin.ModelAdmin):
    list_display = ["id", "created", "box", "action", "state", "short_response", "error_code", "requested_by",
                    "source", "answered_at"]
    list_filter = ["state", "action", "source"]
    search_fields = ["box__serial", "=id"]
    raw_id_fields = ["box", "connector", "requested_by"]
    list_select_related = ["box", "requested_by"]
    readonly_fields = [f.name for f in Command._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # commands are sent through the box's actions, which validate and deliver them

    @admin.display(description="answer")
    def short_response(self, command):
        return str(command.response)[:80] if command.response is not None else ""
