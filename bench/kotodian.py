"""The Kotodian scenarios of `make bench`, on the system bench.run starts, beside the OCPP figures of
the same run: the bridge (``manage.py kotodianbridge``, as `make run` supervises it) on the bench's
private broker, and the simulator's Kotodian boxes (``--protocol kotodian``) as KSIM00001...

- kotodian-ingest: every box charges and publishes Telemetry (4 values, QoS 0, no reply). Persisted
  is what the database holds: a probe polls it every few milliseconds for the rows committed (one
  Power row in W per message), and a message's publish-to-commit time is when the count of committed
  messages reached its rank among the publishes (messages commit in the order they arrive).
  A message is published when it left the box: when paho wrote it to the socket (its on_publish for
  QoS 0; simulator.kotodian_box.StampingClient), not when the box called publish. The time between
  the two is the simulator's own (its event loop's turns), shown apart as "simulator publish delay".
- kotodian-reverse: the reverse API's round trip to one Kotodian box on an otherwise idle system,
  one call at a time (RemoteStart, RemoteStop, ...).
- kotodian-storm: the broker restarted, then every box connects, registers and boots at once.

The ingest and storm fleets run as several simulator processes side by side (bench.simsplit), each
with a range of the boxes: one process with thousands of MQTT clients lags on its own event loop
and charges that to the system. BENCH_SIM_PROCESSES=N sets how many (default SIM_PROCESSES).

The broker is a private Mosquitto (the ``mosquitto`` on PATH, e.g. Debian's) where there is one,
with the logins and topics of kotodian.mosquittofiles; BENCH_BROKER=amqtt runs the scenarios on the
private amqtt that `make run` starts instead. Mosquitto is what production would run (DESIGN 3,
MQTT_URL), and what shows the broker's share of the figures.
"""

from __future__ import annotations

import asyncio
import atexit
import bisect
import getpass
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from bench.simsplit import merge_ingest, merge_storm, simulate_side_by_side
from bench.system import BENCH_VAR, System, free_port, stop_process, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
PREFIX, TAG_PREFIX = "KSIM", "KSIMTAG"
# How often the ingest probe reads the count of committed messages: the resolution of its latencies.
PROBE_SECONDS = 0.005
# Simulator processes per scenario (bench.simsplit). Ingest on the 2-core bench machine, 6 December:
# with 2 processes each loop lagged 86-88 ms at p99 and a publish took 28 ms (p99 155) to leave, and
# 1,792 of the 2,100 msg/s offered went out; with 4, 12-14 ms, 9 ms (p99 46) and 2,004 msg/s. A
# 10,000-box storm in 4 processes still lags 0.6-1.3 s at p99 while all connect (in one process, in
# bench/results/2026-12-06-160100: 3.5-3.9 s).
SIM_PROCESSES = {"kotodian-ingest": 4, "kotodian-storm": 4}
SIMULATOR_LAG = "simulator loop lag p99 ms"  # as bench.run names it

TARGETS = {
    "kotodian-ingest": {"persisted msg/s": (">=", 2_000), "publish to commit p99 ms": ("<=", 100)},
    "kotodian-reverse": {"p50 ms": ("<=", 15)},
    "kotodian-storm": {"boxes ready within 60 s": ("==", "boxes"), "seconds to all ready": ("<=", 60)},
}
DESCRIPTIONS = {
    "kotodian-ingest": "Kotodian telemetry ingest, persisted",
    "kotodian-reverse": "reverse API to a Kotodian box, idle system",
    "kotodian-storm": "Kotodian boxes register and boot after a broker restart",
}


class Bridge:
    """The bridge process of the bench's system, started per scenario as the web processes are."""

    def __init__(self, system: System):
        self.system = system
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.stop()
        self.proc = self.system._spawn("kotodian-bridge", [sys.executable, "manage.py", "kotodianbridge"])
        asyncio.run(answers(broker_login(self.system, "system"), self.proc))

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


async def answers(broker: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """The bridge serves: a probe with an unknown messageId is answered with a MessageError."""
    import aiomqtt

    from kotodian.proto import charger_pb2 as pb
    from simulator.kotodian_box import broker_of

    host, port, user, password = broker_of(broker)
    code = f"PROBE-{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Kotodian bridge exited with {proc.returncode}")
        try:
            async with aiomqtt.Client(host, port, username=user, password=password) as client:
                await client.subscribe(f"/D/C/{code}", qos=2)
                while time.monotonic() < deadline:
                    await client.publish(f"/U/C/{code}", pb.APDU(sequenceId=1, messageId=0x7E).SerializeToString(),
                                         qos=2)
                    try:
                        async with asyncio.timeout(1):
                            async for _ in client.messages:
                                return
                    except TimeoutError:
                        continue
        except aiomqtt.MqttError:
            await asyncio.sleep(0.5)
    raise RuntimeError("the Kotodian bridge did not answer")


class Mosquitto:
    """A private Mosquitto on a free port of 127.0.0.1 that checks logins and topics as production's
    would, from the files ``manage.py mosquittoauth`` renders (kotodian.mosquittofiles): each
    provisioned box's own account, the registration account (and no login) for registration only,
    the system's account for the bridge and the workers."""

    def __init__(self, secret: str, box_codes: list[str]):
        from kotodian.mosquittofiles import mosquitto_conf, write_into

        self.dir = BENCH_VAR / "mosquitto"
        written = write_into(self.dir, secret=secret, box_codes=box_codes)
        self.port = free_port()
        self.config = self.dir / "mosquitto.conf"
        self.config.write_text(f"listener {self.port} 127.0.0.1\nmax_queued_messages 10000\n"
                               # Run as root, Mosquitto would drop to user mosquitto, who cannot
                               # read the files of var/.
                               f"user {getpass.getuser()}\n"
                               # Without it Nagle's algorithm holds each small packet of a QoS 2
                               # exchange for the peer's delayed ACK: about 40 ms a hop.
                               "set_tcp_nodelay true\n"
                               + mosquitto_conf(written.password_file, written.acl_file))
        self.proc: subprocess.Popen | None = None
        atexit.register(self.stop)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.dir / "mosquitto.log", "ab") as log:
            self.proc = subprocess.Popen(["mosquitto", "-c", str(self.config)], stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, self.proc)

    def stop(self) -> None:
        stop_process(self.proc, timeout=10)


def broker_kind() -> str:
    """BENCH_BROKER, by default Mosquitto where there is one on PATH (what production runs, DESIGN 3),
    else the private amqtt that `make run` starts."""
    return os.environ.get("BENCH_BROKER") or ("mosquitto" if shutil.which("mosquitto") else "amqtt")


def box_serials(boxes: int) -> list[str]:
    """The serials bench.provision gives the Kotodian fleet (the simulator's numbering)."""
    from simulator.scenarios import Options

    return [serial for _, serial, _ in Options(scenario="", boxes=boxes, prefix=PREFIX,
                                               tag_prefix=TAG_PREFIX).identities()]


def use_broker(system: System, broker: Mosquitto) -> None:
    """The system on ``broker`` from now on: the worker (which publishes commands) started again with it."""
    broker.start()
    system.services.mqtt_url = system.env["MQTT_URL"] = broker.url
    command = system.worker.args
    stop_process(system.worker)
    system.worker = system._spawn("worker", command)


def provision(system: System, boxes: int) -> None:
    subprocess.run([sys.executable, "-m", "bench.provision", "--boxes", str(boxes), "--connectors", "2",
                    "--prefix", PREFIX, "--tag-prefix", TAG_PREFIX], cwd=ROOT, env=system.env, check=True,
                   capture_output=True)


def restart_broker(system: System, mosquitto: Mosquitto | None) -> float:
    """The private broker stopped and started again on its port, as after a crash or an upgrade:
    every client (the bridge, the workers' publishers) loses it. The monotonic time it is back."""
    from core.localservices import start_broker

    services = system.services
    if mosquitto is not None:
        mosquitto.stop()
        mosquitto.start()
        return time.monotonic()
    stop_process(services._mqtt, timeout=10)
    data_dir = BENCH_VAR / "mqtt"
    port = json.loads((data_dir / "broker.yaml").read_text())["listeners"]["default"]["bind"].rsplit(":", 1)[1]
    with open(data_dir / "broker.log", "ab") as log:
        services._mqtt = start_broker(int(port), data_dir, services.mqtt_secret, stdout=log)
    wait_for_port(int(port), services._mqtt)
    return time.monotonic()


def broker_login(system: System, kind: str = "registration") -> str:
    """The broker's URL with an account of ``kind`` (kotodian.mqttaccess, ADR 0021): the private broker
    takes no client without a login. Boxes leave the factory with the registration account."""
    from urllib.parse import quote, urlsplit

    from kotodian.mqttaccess import credentials

    account = credentials(system.services.mqtt_secret, kind)
    parts = urlsplit(system.services.mqtt_url)
    return f"mqtt://{quote(account.username)}:{quote(account.password)}@{parts.hostname}:{parts.port}"


def sim_processes(scenario: str) -> int:
    return int(os.environ.get("BENCH_SIM_PROCESSES") or SIM_PROCESSES[scenario])


def kotodian_args(system: System) -> list[str]:
    return ["--protocol", "kotodian", "--broker", broker_login(system), "--prefix", PREFIX,
            "--tag-prefix", TAG_PREFIX]


# -- ingest --------------------------------------------------------------------------------------


class CommitProbe(threading.Thread):
    """Polls the bench database for the Telemetry messages committed: (monotonic time, how many)."""

    def __init__(self, system: System):
        super().__init__(daemon=True)
        self.system = system
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        import psycopg

        from bench.system import _socket_dir_of_url
        from core.localservices import DATABASE_NAME

        with psycopg.connect(host=_socket_dir_of_url(self.system.services.database_url), user="postgres",
                             dbname=DATABASE_NAME, autocommit=True) as conn:
            last = conn.execute("SELECT COALESCE(max(id), 0) FROM transactions_metervalue").fetchone()[0]
            count = 0
            while not self.done.is_set():
                # Only rows past the last seen: the Kotodian writer commits its batches in id order.
                newest, found = conn.execute(
                    "SELECT max(id), count(*) FILTER (WHERE measurand = 'Power.Active.Import' AND raw_unit = 'W')"
                    " FROM transactions_metervalue WHERE id > %s", [last]).fetchone()
                now = time.monotonic()
                if newest is not None:
                    last, count = newest, count + found
                self.samples.append((now, count))
                time.sleep(PROBE_SECONDS)

    def committed_by(self, moment: float) -> int:
        """Messages committed when ``moment`` came (the probe's last reading before it)."""
        index = bisect.bisect_right(self.samples, (moment, float("inf"))) - 1
        return self.samples[index][1] if index >= 0 else 0


def ingest_figures(report: dict, probe: CommitProbe) -> list[dict]:
    """Per slice of the measured window: messages published and persisted per second, the
    publish-to-commit percentiles of the messages published in it, and their publish delay in the
    simulator (``delay``: from the call to when the message left)."""
    from simulator.stats import summarise

    sent = sorted(zip(report.pop("published_monotonic", None) or [], report.pop("called_monotonic", None) or [],
                      strict=True))
    published = [at for at, _ in sent]
    t0 = report.get("t0_monotonic")
    window = report.get("window")
    if not published or t0 is None or not window:
        return []
    times = [t for t, _ in probe.samples]
    counts = [c for _, c in probe.samples]
    # The i-th message published (0-based) is committed at the first reading that counts i + 1.
    committed_at = []
    for rank in range(len(published)):
        index = bisect.bisect_left(counts, rank + 1)
        committed_at.append(times[index] if index < len(times) else None)
    start, seconds = t0 + window["start_s"], window["seconds"]
    slices = max(len(report.get("windows") or []), 1)
    out = []
    for n in range(slices):
        a, b = start + seconds * n / slices, start + seconds * (n + 1) / slices
        lo, hi = bisect.bisect_left(published, a), bisect.bisect_left(published, b)
        latencies = [committed_at[i] - published[i] for i in range(lo, hi) if committed_at[i] is not None]
        out.append({"published_per_s": round((hi - lo) / (b - a), 1),
                    "persisted_per_s": round((probe.committed_by(b) - probe.committed_by(a)) / (b - a), 1),
                    "never_committed": sum(1 for i in range(lo, hi) if committed_at[i] is None),
                    **summarise(latencies),
                    "delay": summarise([at - called for at, called in sent[lo:hi]])})
    return out


def run_ingest(system: System, plan, simulate, spread, interval: float) -> dict:
    probe = CommitProbe(system)
    probe.start()
    try:
        report = merge_ingest(simulate_side_by_side(
            simulate, system.url, "ingest", *kotodian_args(system), "--meter-interval", f"{interval:.3f}",
            "--duration", str(plan.ingest_seconds), "--windows", str(plan.repeats), "--ramp", "5", "--settle", "90",
            boxes=plan.ingest_boxes, processes=sim_processes("kotodian-ingest"),
            timeout=90 + plan.ingest_seconds + 120))
        time.sleep(2)  # what was published last has time to commit
    finally:
        probe.done.set()
        probe.join(5)
    slices = ingest_figures(report, probe)
    return {"boxes": plan.ingest_boxes, "runs": [report], "slices": slices, "meter_interval_s": interval, "figures": {
        "boxes charging": spread([report.get("charging")]),
        "published msg/s": spread([s["published_per_s"] for s in slices]),
        "persisted msg/s": spread([s["persisted_per_s"] for s in slices]),
        "publish to commit p50 ms": spread([s["p50_ms"] for s in slices]),
        "publish to commit p99 ms": spread([s["p99_ms"] for s in slices]),
        "never committed": spread([sum(s["never_committed"] for s in slices)]),
        "errors": spread([w.get("errors_all") for w in report.get("windows") or []]),
        "simulator publish delay p50 ms": spread([s["delay"]["p50_ms"] for s in slices]),
        "simulator publish delay p99 ms": spread([s["delay"]["p99_ms"] for s in slices]),
        SIMULATOR_LAG: spread([w.get("loop_lag_p99_ms") for w in report.get("windows") or []]),
        "simulator processes": spread([len(report["processes"])]),
    }}


# -- reverse and storm ----------------------------------------------------------------------------


def run_reverse(system: System, plan, simulate, spread) -> dict:
    rounds = 10 if plan.quick else 30
    report = simulate(system.url, "reverse", *kotodian_args(system), "--boxes", "1", "--concurrency", "1",
                      "--rounds", str(rounds), "--api-token", system.token, "--settle", "60",
                      timeout=60 + rounds * 10 + 60)
    each = report.get("rounds") or []
    return {"boxes": 1, "runs": [report], "figures": {
        "p50 ms": spread([r.get("p50_ms") for r in each]),
        "p99 ms": spread([r.get("p99_ms") for r in each]),
        "answered Accepted": spread([sum(r.get("accepted", 0) for r in each)]),
        "errors": spread([report.get("errors")]),
    }}


def run_storm(system: System, plan, simulate, spread, bridge: Bridge, mosquitto: Mosquitto | None) -> dict:
    """The broker restarted; once the bridge has found it again (by itself, with its back-off from
    1 s), every box connects, registers and boots at once. Timed from the restart."""
    runs = []
    for _ in range(plan.repeats):
        system.reset_state()
        restarted = restart_broker(system, mosquitto)
        asyncio.run(answers(broker_login(system, "system"), bridge.proc))
        bridge_back = time.monotonic() - restarted
        report = merge_storm(simulate_side_by_side(
            simulate, system.url, "storm", *kotodian_args(system), "--settle", "60",
            boxes=plan.storm_boxes, processes=sim_processes("kotodian-storm"), timeout=150))
        took = report.get("seconds_to_all_ready")
        report["bridge_back_s"] = round(bridge_back, 2)
        report["seconds_from_restart"] = (round(report["t0_monotonic"] - restarted + took, 2)
                                          if took is not None and report.get("t0_monotonic") else None)
        runs.append(report)
    return {"boxes": plan.storm_boxes, "runs": runs, "figures": {
        "boxes ready within 60 s": spread([r.get("booted") for r in runs]),
        "seconds to all ready": spread([r.get("seconds_from_restart") for r in runs], unfinished=True),
        "of which the bridge back s": spread([r.get("bridge_back_s") for r in runs]),
        "registration answer p99 ms": spread([r.get("window", r).get("actions", {}).get("DeviceRegistration", {})
                                              .get("p99_ms") for r in runs]),
        "boot answer p99 ms": spread([r.get("window", r).get("actions", {}).get("BootNotification", {})
                                      .get("p99_ms") for r in runs]),
        "errors": spread([r.get("errors") for r in runs]),
        SIMULATOR_LAG: spread([r["window"]["loop_lag"]["p99_ms"] if r.get("window") else None for r in runs]),
        "simulator processes": spread([len(r["processes"]) for r in runs]),
    }}


def steps(system: System, plan, simulate, spread, ingest_interval: float) -> list:
    """(name, step) of the Kotodian scenarios, for bench.run's loop; the bridge runs for each."""
    bridge = Bridge(system)
    provisioned = []
    brokers: list[Mosquitto | None] = []

    def with_bridge(run):
        def step():
            if not provisioned:
                provision(system, max(plan.ingest_boxes, plan.storm_boxes, 1))
                provisioned.append(True)
                if broker_kind() == "mosquitto":
                    boxes = max(plan.ingest_boxes, plan.storm_boxes, 1)
                    brokers.append(Mosquitto(system.services.mqtt_secret, box_serials(boxes)))
                else:
                    brokers.append(None)
                if brokers[0] is not None:
                    use_broker(system, brokers[0])
            bridge.start()
            try:
                return run()
            finally:
                bridge.stop()
        return step

    return [
        ("kotodian-ingest", with_bridge(lambda: run_ingest(system, plan, simulate, spread, ingest_interval))),
        ("kotodian-reverse", with_bridge(lambda: run_reverse(system, plan, simulate, spread))),
        ("kotodian-storm", with_bridge(lambda: run_storm(system, plan, simulate, spread, bridge, brokers[0]))),
    ]
