"""A Kotodian box for tests: a paho MQTT client on the broker that speaks APDUs, and a probe that
tells when a bridge answers."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kotodian import codec
from kotodian.proto import charger_pb2 as pb


def broker_address() -> tuple[str, int]:
    from kotodian.topics import broker

    found = broker()
    return found["hostname"], found["port"]


class KotodianBox:
    """A Kotodian box on the broker: publishes requests on its uplink topics and collects what the
    system publishes on its downlink topics, replies by sequenceId. ``answers``: messageId -> the
    Conf it answers a request of the system's with (the requests are kept in ``requests`` either way)."""

    def __init__(self, code: str, client_id: str | None = None, answers: dict | None = None):
        self.code = code
        self.client_id = client_id or f"KT100-{code}"
        self.answers = answers or {}
        self.requests: queue.Queue = queue.Queue()
        self.replies: dict[int, tuple[str, bytes]] = {}
        self.received = threading.Condition()
        self.sequence = 1000
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        self.client.on_message = self.on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        host, port = broker_address()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe([(f"/D/R/{self.client_id}", 2), (f"/D/C/{code}", 2), (f"/D/M/{code}", 0)])
        assert subscribed.wait(10), "the box's subscription was not acknowledged"

    def on_message(self, client, userdata, message) -> None:
        payload = bytes(message.payload)
        try:
            apdu = codec.decode(payload)
        except Exception:
            apdu = None
        if apdu is not None and apdu.is_request:
            self.requests.put(apdu)
            conf = self.answers.get(apdu.message_id)
            if conf is not None:
                self.client.publish(f"/U/C/{self.code}", codec.encode_reply(apdu, conf), qos=2)
            return
        sequence_id = apdu.sequence_id if apdu is not None else -1
        with self.received:
            self.replies[sequence_id] = (message.topic, payload)
            self.received.notify_all()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def publish(self, kind: str, payload: bytes) -> None:
        last = self.client_id if kind == "R" else self.code
        self.client.publish(f"/U/{kind}/{last}", payload, qos=0 if kind == "M" else 2).wait_for_publish(10)

    def send(self, kind: str, message_id: int, message, **options) -> int:
        """Publish a request; its sequenceId."""
        self.sequence += 1
        self.publish(kind, codec.encode_request(message_id, message, self.sequence, **options))
        return self.sequence

    def reply(self, sequence_id: int, timeout: float = 15) -> tuple[str, codec.Apdu]:
        """(topic, reply APDU) of the system's answer to request ``sequence_id``."""
        deadline = time.monotonic() + timeout
        with self.received:
            while sequence_id not in self.replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no answer to sequenceId {sequence_id}")
                self.received.wait(left)
            topic, payload = self.replies.pop(sequence_id)
        return topic, codec.decode(payload)

    def no_reply(self, sequence_id: int, wait: float = 1.5) -> bool:
        time.sleep(wait)
        with self.received:
            return sequence_id not in self.replies

    def call(self, kind: str, message_id: int, message, **options) -> codec.Apdu:
        """A request and the system's answer to it."""
        return self.reply(self.send(kind, message_id, message, **options))[1]

    def register(self, serial: str | None = None, code: str = "") -> codec.Apdu:
        return self.call("R", pb.ID_DeviceRegistrationReq, pb.DeviceRegistrationReq(
            partNumber="KT100", serialNumber=serial or self.code, vendorId="Kotodian", registrationCode=code))

    def boot(self) -> codec.Apdu:
        return self.call("C", pb.ID_BootNotificationReq, pb.BootNotificationReq(
            partNumber="KT100", serialNumber=self.code, vendorId="Kotodian", firmwareVersion="1.10.47",
            deviceCode=self.code, ICCID="8986001"))


def wait_until_serving(proc: subprocess.Popen, timeout: float = 60) -> None:
    """The bridge answers: a probe with an unknown messageId is answered EC_NotSupported, whoever sends it."""
    probe = KotodianBox(f"PROBE-{uuid.uuid4().hex[:8]}")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the Kotodian bridge exited with {proc.returncode}")
            probe.sequence += 1
            probe.publish("C", pb.APDU(sequenceId=probe.sequence, messageId=0x7E).SerializeToString())
            try:
                probe.reply(probe.sequence, timeout=1)
                return
            except AssertionError:
                continue
        raise RuntimeError("the Kotodian bridge did not answer")
    finally:
        probe.close()
