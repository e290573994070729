import pytest

from receiver import Receiver, serve


@pytest.fixture
def receiver(settings):
    """A real HTTP receiver on 127.0.0.1, which the webhooks may reach over plain http here."""
    settings.WEBHOOK_INSECURE_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_RETRY_BASE_SECONDS = 0.2
    got = Receiver()
    server = serve(got)
    yield got
    server.shutdown()
