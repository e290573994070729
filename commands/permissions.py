from rest_framework.permissions import BasePermission


class CanUseCommandApi(BasePermission):
    """Tokens from `manage.py apitoken` carry this permission (and operations staff)."""

    message = "this user may not use the command APIs"

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("chargers.use_command_api"))
