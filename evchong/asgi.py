import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

# The admin's and the status pages' CSS and JavaScript, found in the apps' static folders (no
# collectstatic needed for `make run`); in production nginx answers /static/ before we see it.
django_asgi_app = ASGIStaticFilesHandler(get_asgi_application())

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from ocpp16 import wsserver  # noqa: E402
from ocpp16.routing import websocket_urlpatterns  # noqa: E402

# When daphne serves us: HTTP 404/401 refusals, admission control (HTTP 503 beyond
# OCPP_CONNECTING_MAX boxes connecting at once) and 1009 closes for OCPP connections, and an
# open-files limit raised for thousands of boxes. Here, so that it holds however daphne is started.
wsserver.install()

from evchong_api.fastpath import ForwardAPI  # noqa: E402
from evchong_api.reverse import ReverseAPI  # noqa: E402

# The EVCHONG methods, forward and reverse, are answered in front of Django (one thread hop instead
# of a dozen, docs/adr/0010); every other request, and their multipart bodies, go on to Django.
http_app = ReverseAPI(ForwardAPI(django_asgi_app))

# Charge boxes send no Origin header, so the OCPP route must not sit behind
# AllowedHostsOriginValidator.
application = ProtocolTypeRouter({"http": http_app, "websocket": URLRouter(websocket_urlpatterns)})

from core import gctuning  # noqa: E402

# Last: what is loaded by now lives as long as the process (core.gctuning).
gctuning.tune()
