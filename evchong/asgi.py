import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

# WebSocket routes (OCPP) join here; charge boxes send no Origin header, so they must not sit
# behind AllowedHostsOriginValidator.
application = ProtocolTypeRouter({"http": django_asgi_app})
