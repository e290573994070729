"""The private broker lets in only the system and boxes with their credentials, each on its own
topics (docs/adr/0021), seen from real paho clients on the broker `make test` starts."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from kotodian_boxes import KotodianBox, broker_address
from paho.mqtt.enums import CallbackAPIVersion

from kotodian import codec
from kotodian.credentials import box_credentials, registration_credentials
from kotodian.mqttaccess import PUBLISH, SUBSCRIBE, topic_allowed
from kotodian.proto import charger_pb2 as pb


class Client:
    """A bare MQTT client: the CONNACK's reason, each SUBACK's codes, the messages received."""

    def __init__(self, username: str | None, password: str | None, client_id: str | None = None):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"probe-{uuid.uuid4().hex[:8]}")
        if username is not None:
            self.client.username_pw_set(username, password)
        self.connected = threading.Event()
        self.reason = None
        self.granted: dict[int, list] = {}
        self.acked = threading.Condition()
        self.messages: list[tuple[str, bytes]] = []
        self.client.on_connect = self.on_connect
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = lambda client, userdata, message: self.messages.append(
            (message.topic, bytes(message.payload)))
        self.client.on_disconnect = lambda *args: self.connected.set()
        host, port = broker_address()
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.connected.wait(10), "no CONNACK"

    def on_connect(self, client, userdata, flags, reason_code, properties):
        self.reason = reason_code
        self.connected.set()

    def on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self.acked:
            self.granted[mid] = [code.value for code in reason_codes]
            self.acked.notify_all()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, topic: str, qos: int = 2) -> int:
        """The SUBACK code: the QoS granted, or 0x80 when refused."""
        _, mid = self.client.subscribe(topic, qos)
        with self.acked:
            assert self.acked.wait_for(lambda: mid in self.granted, 10), "no SUBACK"
            return self.granted[mid][0]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=2).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def clients():
    made = []

    def make(*args, **options) -> Client:
        made.append(Client(*args, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


def heartbeat(sequence_id: int) -> bytes:
    return codec.encode_request(pb.ID_HeartbeatReq, pb.HeartbeatReq(), sequence_id)


@pytest.mark.django_db
def test_a_wrong_password_an_unknown_account_and_a_password_without_account_are_refused(clients):
    good = box_credentials("KT-ACCESS-1")
    assert clients(good.username, good.password).accepted
    assert not clients(good.username, good.password[:-1] + "0" if good.password[-1] != "0" else "1").accepted
    assert not clients("KT-ACCESS-2", good.password).accepted  # another box's password
    assert not clients("evchong-system", good.password).accepted
    assert not clients("", good.password).accepted
    assert not clients("KT/+", box_credentials("KT/+").password).accepted  # no wildcard in a username


@pytest.mark.django_db
def test_a_box_subscribes_only_its_own_downlink_topics(clients):
    mine = box_credentials("KT-ACCESS-A")
    box = clients(mine.username, mine.password, client_id="KT100-KT-ACCESS-A")
    assert box.subscribe("/D/C/KT-ACCESS-A") == 2
    assert box.subscribe("/D/C/KT-ACCESS-A/#") == 2
    assert box.subscribe("/D/M/KT-ACCESS-A", 0) == 0
    assert box.subscribe("/D/R/KT100-KT-ACCESS-A") == 2
    for foreign in ["/D/C/KT-ACCESS-B", "/D/C/+", "/D/#", "#", "/D/R/KT100-KT-ACCESS-B", "/U/C/KT-ACCESS-A"]:
        assert box.subscribe(foreign) == 0x80, foreign


@pytest.mark.django_db
def test_a_box_publishes_only_on_its_own_uplink_topics(clients):
    """A publish on another box's topic is dropped by the broker: a system client subscribed there
    sees the box's own messages and none of the other."""
    from kotodian.topics import broker

    system = broker()
    watcher = clients(system["username"], system["password"])
    assert watcher.subscribe("/U/#") == 2
    mine = box_credentials("KT-ACCESS-C")
    box = clients(mine.username, mine.password, client_id="KT100-KT-ACCESS-C")
    box.publish("/U/C/KT-ACCESS-D", heartbeat(1))
    box.publish("/U/M/KT-ACCESS-D", heartbeat(2))
    box.publish("/U/R/KT100-KT-ACCESS-D", heartbeat(3))
    box.publish("/D/C/KT-ACCESS-D", heartbeat(4))  # posing as the system to another box
    box.publish("/U/C/KT-ACCESS-C", heartbeat(5))
    box.publish("/U/M/KT-ACCESS-C", heartbeat(6))
    deadline = time.monotonic() + 10  # the box's own two come after the four refused (one connection, in order)
    while len(watcher.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # room for a refused one, had it been let through late
    seen = [(topic, codec.decode(payload).sequence_id) for topic, payload in watcher.messages]
    assert seen == [("/U/C/KT-ACCESS-C", 5), ("/U/M/KT-ACCESS-C", 6)]


@pytest.mark.django_db
def test_the_registration_account_uses_only_the_registration_topics_of_its_client_id(clients):
    account = registration_credentials()
    newcomer = clients(account.username, account.password, client_id="KT100-NEW-1")
    assert newcomer.accepted
    assert newcomer.subscribe("/D/R/KT100-NEW-1") == 2
    assert newcomer.subscribe("/D/R/KT100-NEW-2") == 0x80
    assert newcomer.subscribe("/D/C/NEW-1") == 0x80
    assert newcomer.subscribe("/D/R/+") == 0x80


@pytest.mark.django_db
def test_no_login_at_all_is_the_registration_account(clients):
    """The factory's default account (kotodian-apdu 1.5) left unnamed: a box that logs in with none
    may register, and nothing else, until it logs in with the credentials registration hands it."""
    newcomer = clients(None, None, client_id="KT100-NEW-3")
    assert newcomer.accepted
    assert newcomer.subscribe("/D/R/KT100-NEW-3") == 2
    for foreign in ["/D/R/KT100-NEW-4", "/D/C/NEW-3", "/D/M/NEW-3", "/D/#", "#"]:
        assert newcomer.subscribe(foreign) == 0x80, foreign
    assert not topic_allowed(None, "KT100-NEW-3", PUBLISH, "/U/C/NEW-3")
    assert topic_allowed(None, "KT100-NEW-3", PUBLISH, "/U/R/KT100-NEW-3")


def test_topic_rules_with_a_prefix():
    assert topic_allowed("KT-1", "KT100-KT-1", PUBLISH, "site/U/C/KT-1", "site")
    assert not topic_allowed("KT-1", "KT100-KT-1", PUBLISH, "/U/C/KT-1", "site")
    assert topic_allowed("KT-1", "KT100-KT-1", SUBSCRIBE, "site/D/C/KT-1/#", "site")
    assert not topic_allowed("KT-1", "x/y", SUBSCRIBE, "site/D/R/x/y", "site")


@pytest.mark.parametrize("anonymous", [False, True], ids=["registration-account", "no-login"])
def test_registration_hands_out_credentials_that_open_only_the_box_s_own_topics(kotodian_box, make_box, serial,
                                                                               anonymous):
    """The flow of kotodian-apdu 1.5: the registration account (or no login at all, its unnamed
    door), DeviceRegistrationConf with the box's own username and password, then a connection with
    those, the boot on its own topics."""
    make_box(serial, connectors=1)
    account = registration_credentials()
    if anonymous:
        account = type(account)("", "")
    newcomer = KotodianBox(serial, login=(account.username, account.password))
    try:
        conf = newcomer.register().message
    finally:
        newcomer.close()
    assert conf.status == 0 and conf.deviceCode == serial
    assert conf.mqttUsername == serial and len(conf.mqttPassword) == 32
    # Registering again gives the same credentials (DESIGN 3: the deviceCode stays the same too).
    again = kotodian_box(serial, login=(account.username, account.password)).register().message
    assert (again.mqttUsername, again.mqttPassword) == (conf.mqttUsername, conf.mqttPassword)
    box = kotodian_box(serial, login=(conf.mqttUsername, conf.mqttPassword))
    assert box.boot().message.status == 0
    assert box.call("C", pb.ID_HeartbeatReq, pb.HeartbeatReq()).message_id == pb.ID_HeartbeatConf


def test_a_refused_registration_hands_out_no_credentials(kotodian_box, make_box, serial):
    make_box(serial, connectors=1, password="factory-code-1")
    account = registration_credentials()
    conf = kotodian_box(serial, login=(account.username, account.password)).register(code="wrong").message
    assert conf.status != 0
    assert conf.mqttUsername == "" and conf.mqttPassword == ""
