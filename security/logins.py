"""Password logins of people (the admin, the status pages, any other form that calls Django's
``authenticate``) guarded against guessing: the authentication backend counts failures and refuses
a locked-out source (security.bruteforce); the login forms say so instead of "wrong password"."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied

from security import bruteforce
from security.clients import address_of_request


class GuardedModelBackend(ModelBackend):
    """Django's own backend, behind the brute-force counters. Calls without a request (the shell, a
    management command) are not counted: nobody guesses through them."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or username is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        source, account = address_of_request(request), str(username)
        wait = bruteforce.refused_for(bruteforce.ADMIN, source, account)
        if wait:
            request.login_refused_for = wait
            raise PermissionDenied  # ends ``authenticate`` at once: not even the password is checked
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            bruteforce.failure(bruteforce.ADMIN, source, account)
        else:
            bruteforce.success(bruteforce.ADMIN, source, account)
        return user


class LockoutMessage:
    """For a login form: a source refused by the backend is told so, and for how long."""

    @property
    def locked_out(self) -> bool:
        return bool(getattr(self.request, "login_refused_for", 0))

    def get_invalid_login_error(self):
        wait = getattr(self.request, "login_refused_for", 0)
        if wait:
            return forms.ValidationError(
                "Too many failed logins from your address for this account. Try again in %(wait)d s.",
                code="locked_out", params={"wait": wait})
        return super().get_invalid_login_error()


class GuardedAuthenticationForm(LockoutMessage, AuthenticationForm):
    pass


class GuardedAdminAuthenticationForm(LockoutMessage, AdminAuthenticationForm):
    pass
