"""Admin pages to send any Central-System call to one box and see its answer.

The send view is async: it issues the command (a short transaction in a thread), then waits on the
command's Redis reply key without holding a thread, since under ASGI a blocked sync view would stall
every other sync view of the process, the OCPP edge's database calls included."""

from __future__ import annotations

from django.contrib.admin.utils import unquote
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from commands.models import Command
from commands.replies import command_wait_async
from commands.services import command_issue
from core.db import releasing_connection
from core.errors import DomainError
from operations.command_forms import FORMS, forms_edge
from commands.roles import actions_offered, command_allowed

# The send button waits this long for the box's answer; a slower answer appears on the result page,
# which keeps polling until the command is closed.
ANSWER_WAIT_SECONDS = 8


class BoxCommandsMixin:
    """For the ChargeBox admin: /<box>/command/<Action>/ (the form), .../send (POST) and
    /<box>/commands/<id>/ (what became of it)."""

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/command/<str:action>/", view(self.command_form_view), name="%s_%s_command" % info),
            path("<path:object_id>/command/<str:action>/send", self._async_admin_view(self.command_send_view),
                 name="%s_%s_command_send" % info),
            path("<path:object_id>/commands/<int:command_id>/", view(self.command_result_view),
                 name="%s_%s_command_result" % info),
            path("<path:object_id>/commands/<int:command_id>/state", view(self.command_state_view),
                 name="%s_%s_command_state" % info),
        ] + super().get_urls()

    def _async_admin_view(self, view):
        """AdminSite.admin_view for an async view (admin_view's wrapper is sync only)."""
        site = self.admin_site

        async def inner(request, *args, **kwargs):
            user = await request.auser()
            if not (user.is_active and user.is_staff):
                return redirect_to_login(request.get_full_path(), reverse("admin:login", current_app=site.name))
            return await view(request, *args, **kwargs)

        return csrf_protect(never_cache(inner))

    def commands_offered(self, request, box) -> list[str]:
        """The forms of the calls that ``box``'s protocol has (operations.command_forms.forms_edge)."""
        edge = forms_edge(box)
        return actions_offered(request.user, [action for action in FORMS if action in edge.actions])

    def _box(self, request, object_id):
        box = self.get_object(request, unquote(object_id))
        if box is None:
            raise Http404("no such charge box")
        if not self.has_view_permission(request, box):
            raise PermissionDenied
        return box

    def _form_page(self, request, box, action, form) -> TemplateResponse:
        return TemplateResponse(request, "admin/chargers/chargebox/command_form.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": box, "box": box,
            "action": action, "form": form, "doc": (FORMS[action].__doc__ or "").strip(),
            "title": f"{action} → {box.serial}",
        })

    def command_form_view(self, request, object_id, action):
        box = self._box(request, object_id)
        if action not in FORMS:
            raise Http404(f"{action} is not a call the central system makes")
        if action not in self.commands_offered(request, box):
            raise PermissionDenied(f"you may not send {action} to this box")
        return self._form_page(request, box, action, FORMS[action](box=box))

    def _issue(self, request, object_id, action) -> Command | HttpResponse:
        box = self._box(request, object_id)
        if action not in FORMS:
            raise Http404(f"{action} is not a call the central system makes")
        if action not in self.commands_offered(request, box):
            raise PermissionDenied(f"you may not send {action} to this box")
        form = FORMS[action](request.POST, box=box)
        if not form.is_valid():
            return self._form_page(request, box, action, form).render()
        payload = form.payload()
        if not command_allowed(request.user, action, payload):
            raise PermissionDenied(f"you may not send {action} with these values")
        try:
            return command_issue(box=box, action=action, payload=payload, requested_by=request.user, source="admin")
        except DomainError as refusal:
            form.add_error(None, str(refusal))
            return self._form_page(request, box, action, form).render()

    async def command_send_view(self, request, object_id, action):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:chargers_chargebox_command", args=[object_id, action]))
        outcome = await releasing_connection(self._issue)(request, object_id, action)
        if isinstance(outcome, HttpResponse):
            return outcome
        if outcome.is_open:
            await command_wait_async(outcome.pk, ANSWER_WAIT_SECONDS)
        return HttpResponseRedirect(
            reverse("admin:chargers_chargebox_command_result", args=[object_id, outcome.pk])
        )

    def _command(self, request, object_id, command_id):
        box = self._box(request, object_id)
        command = Command.objects.filter(pk=command_id, box=box).select_related("requested_by").first()
        if command is None:
            raise Http404("no such command for this box")
        return box, command

    def command_result_view(self, request, object_id, command_id):
        box, command = self._command(request, object_id, command_id)
        return TemplateResponse(request, "admin/chargers/chargebox/command_result.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": box, "box": box,
            "command": command, "title": f"{command.action} → {box.serial}",
        })

    def command_state_view(self, request, object_id, command_id):
        box, command = self._command(request, object_id, command_id)
        return TemplateResponse(request, "admin/chargers/chargebox/_command_state.html",
                                {"box": box, "command": command, "opts": self.opts})
