from rest_framework.permissions import SAFE_METHODS, BasePermission

from commands.roles import command_allowed, may_send_all


class CanUseCommandApi(BasePermission):
    """Tokens from `manage.py apitoken`, Operations and Field engineers; which command each may
    send is decided by commands.roles.command_allowed, asked through ``command_permitted``."""

    message = "this user may not use the command APIs"

    def has_permission(self, request, view):
        user = request.user
        return bool(
            user and user.is_authenticated
            and (may_send_all(user) or user.has_perm("operations.send_diagnostic_commands"))
        )


def command_permitted(user, action: str, payload: dict) -> str | None:
    """Why ``user`` may not send this command, or None when it may."""
    if command_allowed(user, action, payload):
        return None
    return f"this user may not send {action}" + (f" ({payload['type']})" if payload.get("type") else "")


class HasModelPermission(BasePermission):
    """The REST API's lists and edits (operations.api): a view names the permission each HTTP
    method needs in ``required_permissions`` ({"GET": "chargers.view_idtag", ...}). Tokens from
    `manage.py apitoken` may do everything, as with commands; staff as their role grants
    (commands.roles: Operations edit the project's apps, Field engineers look)."""

    message = "this user may not do this"

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if may_send_all(user):
            return True
        if not hasattr(view, request.method.lower()) and request.method not in SAFE_METHODS:
            return True  # a method the view does not offer: DRF answers 405
        needed = view.required_permissions.get(request.method)
        if needed is None and request.method in SAFE_METHODS:
            needed = view.required_permissions.get("GET")  # HEAD, OPTIONS: as reading
        # A method offered without a permission named for it is refused, not opened to all.
        return needed is not None and user.has_perm(needed)
