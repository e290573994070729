"""A plain Mosquitto 2, with no plugin, keeps each Kotodian account on its own topics by the files
`manage.py mosquittoauth` writes (kotodian/mosquittofiles.py): a private Mosquitto on a free port
of 127.0.0.1 (never the system's), real paho clients."""

from __future__ import annotations

import getpass
import io
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from django.core.management import call_command
from paho.mqtt.enums import CallbackAPIVersion

from kotodian import mosquittofiles
from kotodian.credentials import box_credentials, registration_credentials, system_credentials

pytestmark = pytest.mark.skipif(shutil.which("mosquitto") is None,
                                reason="no `mosquitto` on PATH (Debian: apt install mosquitto)")
NOT_AUTHORISED = 135  # paho's reason for CONNACK return code 5 of MQTT 3.1.1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateMosquitto:
    """A Mosquitto of this test's own, reading the files the command writes into ``directory``."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.password_file, self.acl_file = directory / "passwd", directory / "acl"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def command(self, *options: str) -> str:
        out = io.StringIO()
        call_command("mosquittoauth", "--password-file", str(self.password_file), "--acl-file", str(self.acl_file),
                     *options, stdout=out)
        return out.getvalue()

    def start(self) -> None:
        config = self.directory / "mosquitto.conf"
        config.write_text(f"listener {self.port} 127.0.0.1\n"
                          # Run as root, Mosquitto would drop to user mosquitto, who cannot read tmp_path.
                          f"user {getpass.getuser()}\n"
                          + mosquittofiles.mosquitto_conf(self.password_file, self.acl_file))
        self.log = open(self.directory / "mosquitto.log", "wb")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(config)], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mosquitto did not start: {(self.directory / 'mosquitto.log').read_text()}")
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()


class Client:
    """A paho client: the CONNACK's reason and the (topic, payload) of every message received."""

    def __init__(self, port: int, username: str | None, password: str | None, client_id: str | None = None):
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"probe-{uuid.uuid4().hex[:8]}")
        if username is not None:
            self.client.username_pw_set(username, password)
        self.answered = threading.Event()
        self.subscribed = threading.Event()
        self.reason = None
        self.messages: list[tuple[str, bytes]] = []
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self.answered.set()
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.on_message = lambda client, userdata, message: self.messages.append(
            (message.topic, bytes(message.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.answered.wait(10), "no CONNACK"

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.reason = reason_code
        self.answered.set()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, *topics: str) -> None:
        """Mosquitto 2.0 grants every subscription and checks each message as it delivers it."""
        self.subscribed.clear()
        self.client.subscribe([(topic, 1) for topic in topics])
        assert self.subscribed.wait(10), "no SUBACK"

    def publish(self, topic: str, payload: bytes = b"x") -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def wait_for(self, topic: str, payload: bytes = b"x") -> list[tuple[str, bytes]]:
        """Every message received until ``(topic, payload)``; messages of one publisher arrive in
        the order sent, so whatever was refused before it would be here by now."""
        deadline = time.monotonic() + 10
        while (topic, payload) not in self.messages:
            assert time.monotonic() < deadline, f"{topic} never arrived; got {self.messages}"
            time.sleep(0.02)
        time.sleep(0.2)  # room for a refused message had it come late
        return list(self.messages)

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


@pytest.fixture
def mosquitto(tmp_path, make_box):
    """``start() -> PrivateMosquitto`` on the files the command writes for boxes KT-MF-A and KT-MF-B
    under the settings of that moment."""
    started = []

    def start() -> PrivateMosquitto:
        make_box("KT-MF-A")
        make_box("KT-MF-B")
        broker = PrivateMosquitto(tmp_path)
        started.append(broker)
        broker.command()
        broker.start()
        return broker

    yield start
    for broker in started:
        broker.stop()


@pytest.fixture
def broker(mosquitto, clients) -> PrivateMosquitto:
    # Asking for clients here closes them before Mosquitto stops.
    return mosquitto()


@pytest.fixture
def system(broker, clients) -> Client:
    account = system_credentials()
    watcher = clients(broker.port, account.username, account.password)
    assert watcher.accepted
    watcher.subscribe("#")
    return watcher


def box(clients, broker, code: str) -> Client:
    account = box_credentials(code)
    client = clients(broker.port, account.username, account.password, client_id=f"KT100-{code}")
    assert client.accepted
    return client


def test_a_box_uses_its_own_topics_both_ways(broker, system, clients):
    a = box(clients, broker, "KT-MF-A")
    a.subscribe("/D/C/KT-MF-A", "/D/C/KT-MF-A/#", "/D/M/KT-MF-A")
    a.publish("/U/C/KT-MF-A", b"request")
    a.publish("/U/M/KT-MF-A", b"telemetry")
    assert ("/U/C/KT-MF-A", b"request") in system.wait_for("/U/M/KT-MF-A", b"telemetry")
    system.publish("/D/C/KT-MF-A", b"conf")
    system.publish("/D/C/KT-MF-A/sub", b"beneath")
    system.publish("/D/M/KT-MF-A", b"downlink")
    assert {("/D/C/KT-MF-A", b"conf"), ("/D/C/KT-MF-A/sub", b"beneath")} <= set(a.wait_for("/D/M/KT-MF-A", b"downlink"))


def test_a_box_cannot_publish_on_the_topics_of_another_box_or_of_the_system(broker, system, clients):
    a = box(clients, broker, "KT-MF-A")
    for topic in ["/U/C/KT-MF-B", "/U/M/KT-MF-B", "/D/C/KT-MF-B", "/D/R/KT100-KT-MF-B", "/U/R/KT100-KT-MF-B",
                  "other/U/C/KT-MF-A"]:
        a.publish(topic, b"refused")
    a.publish("/U/C/KT-MF-A", b"mine")
    assert system.wait_for("/U/C/KT-MF-A", b"mine") == [("/U/C/KT-MF-A", b"mine")]


def test_a_box_receives_nothing_meant_for_another_box_whatever_it_subscribes(broker, system, clients):
    b = box(clients, broker, "KT-MF-B")
    b.subscribe("/D/C/KT-MF-A", "/D/C/+", "/D/#", "/U/#", "#")
    for topic in ["/D/C/KT-MF-A", "/D/M/KT-MF-A", "/D/R/KT100-KT-MF-A", "/U/C/KT-MF-A"]:
        system.publish(topic, b"not for B")
    system.publish("/D/C/KT-MF-B", b"for B")
    assert set(b.wait_for("/D/C/KT-MF-B", b"for B")) == {("/D/C/KT-MF-B", b"for B")}


def test_a_wrong_password_an_unknown_box_and_a_username_without_password_are_refused_at_connect(broker, clients):
    a = box_credentials("KT-MF-A")
    for username, password in [("KT-MF-A", a.password[:-1] + ("0" if a.password[-1] != "0" else "1")),
                               ("KT-MF-A", box_credentials("KT-MF-B").password),  # another box's
                               ("KT-MF-UNKNOWN", box_credentials("KT-MF-UNKNOWN").password),  # not in the database
                               ("evchong-system", a.password), ("KT-MF-A", None)]:
        refused = clients(broker.port, username, password)
        assert refused.reason is not None and refused.reason.value == NOT_AUTHORISED, (username, refused.reason)


@pytest.mark.parametrize("login", ["registration account", "no login"])
def test_registration_uses_only_the_registration_topics_of_its_own_client_id(broker, system, clients, login):
    account = registration_credentials()
    username, password = (account.username, account.password) if login == "registration account" else (None, None)
    newcomer = clients(broker.port, username, password, client_id="KT100-KT-MF-NEW")
    assert newcomer.accepted
    newcomer.subscribe("/D/R/KT100-KT-MF-NEW", "#")
    for topic in ["/D/R/KT100-KT-MF-A", "/D/C/KT-MF-A", "/D/M/KT-MF-A", "/D/C/evchong-registration"]:
        system.publish(topic, b"not for the newcomer")
    system.publish("/D/R/KT100-KT-MF-NEW", b"DeviceRegistrationConf")
    assert set(newcomer.wait_for("/D/R/KT100-KT-MF-NEW", b"DeviceRegistrationConf")) == {
        ("/D/R/KT100-KT-MF-NEW", b"DeviceRegistrationConf")}
    for topic in ["/U/R/KT100-KT-MF-A", "/U/C/KT-MF-A", "/U/M/KT-MF-A", "/U/C/evchong-registration",
                  "/D/R/KT100-KT-MF-NEW"]:
        newcomer.publish(topic, b"refused")
    newcomer.publish("/U/R/KT100-KT-MF-NEW", b"DeviceRegistrationReq")
    seen = system.wait_for("/U/R/KT100-KT-MF-NEW", b"DeviceRegistrationReq")
    assert [message for message in seen if message[1] == b"refused"] == []


def test_a_box_added_logs_in_once_the_command_has_reloaded_mosquitto_without_a_restart(broker, clients, make_box):
    a = box(clients, broker, "KT-MF-A")
    c = box_credentials("KT-MF-C")
    assert not clients(broker.port, c.username, c.password).accepted
    make_box("KT-MF-C")
    pidfile = broker.directory / "mosquitto.pid"
    pidfile.write_text(f"{broker.proc.pid}\n")
    out = broker.command("--reload-pidfile", str(pidfile))
    assert "5 accounts (3 boxes" in out and "written" in out and f"(pid {broker.proc.pid}) told to reread" in out
    deadline = time.monotonic() + 10  # SIGHUP is handled in Mosquitto's own time
    while not clients(broker.port, c.username, c.password).accepted:
        assert time.monotonic() < deadline, "the new box was still refused"
        time.sleep(0.1)
    assert broker.proc.poll() is None and a.client.is_connected()
    # Nothing changed since: the files stay as they are and Mosquitto is left alone.
    out = broker.command("--reload-pid", str(broker.proc.pid))
    assert "unchanged" in out and "reread" not in out
    # systemd's pid of a Mosquitto that is stopped: the files are written for when it starts.
    make_box("KT-MF-D")
    assert "no Mosquitto running" in broker.command("--reload-pid", "0")
    assert "KT-MF-D:" in broker.password_file.read_text()


def test_a_box_deleted_is_disconnected_when_mosquitto_rereads_the_files(broker, clients):
    from chargers.models import ChargeBox

    a, b = box(clients, broker, "KT-MF-A"), box(clients, broker, "KT-MF-B")
    ChargeBox.objects.filter(serial="KT-MF-B").delete()
    assert "told to reread" in broker.command("--reload-pid", str(broker.proc.pid))
    deadline = time.monotonic() + 10
    while b.client.is_connected():
        assert time.monotonic() < deadline, "the deleted box is still connected"
        time.sleep(0.05)
    assert a.client.is_connected()
    b_account = box_credentials("KT-MF-B")
    assert clients(broker.port, b_account.username, b_account.password).reason.value == NOT_AUTHORISED


def test_the_topic_prefix_is_in_every_rule(mosquitto, clients, settings):
    settings.KOTODIAN_TOPIC_PREFIX = "site-7"  # before the command writes the files
    broker = mosquitto()
    account = system_credentials()
    watcher = clients(broker.port, account.username, account.password)
    watcher.subscribe("#")
    a = box(clients, broker, "KT-MF-A")
    a.subscribe("site-7/D/C/KT-MF-A", "/D/C/KT-MF-A")
    a.publish("/U/C/KT-MF-A", b"unprefixed")
    a.publish("site-7/U/C/KT-MF-A", b"prefixed")
    assert watcher.wait_for("site-7/U/C/KT-MF-A", b"prefixed") == [("site-7/U/C/KT-MF-A", b"prefixed")]
    watcher.publish("/D/C/KT-MF-A", b"unprefixed")
    watcher.publish("site-7/D/C/KT-MF-A", b"prefixed")
    assert a.wait_for("site-7/D/C/KT-MF-A", b"prefixed") == [("site-7/D/C/KT-MF-A", b"prefixed")]


def test_serials_that_cannot_be_a_mosquitto_username_are_left_out(tmp_path):
    written = mosquittofiles.write_into(tmp_path, secret="s" * 32,
                                        box_codes=["KT-1", "KT:2", "evchong-system", "KT/3", " KT-4", "KT-1"])
    assert written.accounts == 3 and sorted(written.skipped) == [" KT-4", "KT/3", "KT:2", "evchong-system"]
    users = [line.split(":")[0] for line in written.password_file.read_text().splitlines()]
    assert users == ["evchong-system", "evchong-registration", "KT-1"]
    assert written.password_file.stat().st_mode & 0o777 == 0o640
    assert not mosquittofiles.write_into(tmp_path, secret="s" * 32, box_codes=["KT-1"]).changed
    with pytest.raises(ValueError):
        mosquittofiles.acl_file("site/#")
