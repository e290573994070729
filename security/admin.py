"""API tokens (made here, the token shown once; revoked, never edited) and the audit trail (read only)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from operations.admin_mixins import BigTableMixin, RecordMixin
from security.models import ApiToken, AuditEntry, Scope
from security.tokens import token_create, token_revoke


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple,
                                       initial=[Scope.READ])

    class Meta:
        model = ApiToken
        fields = ["user", "name", "scopes", "expires"]

    def clean_expires(self):
        expires = self.cleaned_data["expires"]
        if expires is not None and expires <= timezone.now():
            raise forms.ValidationError("the expiry must be in the future")
        return expires


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "scopes", "created", "expires", "revoked"]
    list_filter = [("revoked", admin.EmptyFieldListFilter), "scopes"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    actions = ["revoke"]
    form = ApiTokenForm

    def get_readonly_fields(self, request, obj=None):
        # A token is made and then only revoked: a changed scope or owner would surprise its holder.
        if obj is None:
            return ["prefix", "created", "revoked"]
        return ["user", "name", "scopes", "expires", "prefix", "created", "revoked"]

    def save_model(self, request, obj, form, change):
        if change:
            return
        row, token = token_create(user=form.cleaned_data["user"], name=form.cleaned_data["name"],
                                  scopes=form.cleaned_data["scopes"], expires=form.cleaned_data["expires"])
        obj.pk, obj.prefix = row.pk, row.prefix
        obj._state.adding, obj._state.db = False, row._state.db
        # The only time the token is shown: only its digest is stored.
        messages.warning(request, f"The token, shown this once; copy it now: {token}")

    def has_delete_permission(self, request, obj=None):
        return False  # revoked instead, so the audit trail's entries still name it

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked__isnull=True):
            token_revoke(token=token)
        self.message_user(request, "Revoked; servers stop accepting them within API_TOKEN_CACHE_SECONDS.")


@admin.register(AuditEntry)
class AuditEntryAdmin(RecordMixin, BigTableMixin, admin.ModelAdmin):
    list_display = ["at", "actor", "via", "source", "action", "object_type", "object_id", "summary"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor", "object_id", "summary"]

    # Append-only: written by the system, read here, never deleted (a database trigger refuses it too).
    def has_delete_permission(self, request, obj=None):
        return False
