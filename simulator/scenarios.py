"""The scenarios: what a fleet of boxes does during a run, and the figures each one reports.

Every scenario is bounded: boxes that are not ready by ``settle`` seconds are reported as such,
and the part that is measured lasts ``duration`` seconds (or ``rounds`` rounds).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp

from simulator.kotodian_box import KotodianBox, kotodian_settings
from simulator.ocpp_box import BoxSettings, OcppBox
from simulator.rest_box import RequestFailed, RestBox
from simulator.stats import Stats, summarise

REVERSE_PATH = "/evchong-api/reverse/v1/"


@dataclass
class Options:
    scenario: str
    url: str = "http://127.0.0.1:8000"
    boxes: int = 100
    first: int = 1
    prefix: str = "SIM"
    tag_prefix: str = "SIMTAG"
    connectors: int = 2
    duration: float = 60.0
    ramp: float = 0.0
    settle: float = 120.0
    meter_interval: float = 5.0
    heartbeat: float | None = None
    session_length: float = 60.0
    answer_delay: float = 0.0
    concurrency: int = 100
    rounds: int = 3
    pace: float = 0.0
    api_token: str = ""
    password: str | None = None
    call_timeout: float = 30.0
    source_addresses: list[str] = field(default_factory=list)
    server_pid: int | None = None
    end_sessions: bool = True
    windows: int = 1
    protocol: str = "ocpp"  # or "kotodian": boxes on the MQTT broker (simulator.kotodian_box)
    broker: str = "mqtt://127.0.0.1:1883"

    def identities(self) -> list[tuple[int, str, str]]:
        """(index, serial, id tag) of every box: SIM00001 charges with SIMTAG00001."""
        width = max(5, len(str(self.first + self.boxes - 1)))
        return [(i, f"{self.prefix}{n:0{width}d}", f"{self.tag_prefix}{n:0{width}d}")
                for i, n in enumerate(range(self.first, self.first + self.boxes))]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/") + "/ocpp"


def rss_kib(pid: int | None) -> int | None:
    """Resident set size of a local process, from /proc (Linux)."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# Boxes that start together start this many per turn of the simulator's event loop: a storm's
# 10,000 first connects in one turn blocked the loop for 2-5 s, while the boxes the server had let
# in already waited for the simulator to read their answers (a fleet of real boxes does not queue
# behind itself). The whole fleet still starts within a second or two.
START_PER_TURN = 100


class Fleet:
    """OCPP boxes (or Kotodian ones: --protocol kotodian) started over ``ramp`` s, each running until ``stop``."""

    def __init__(self, options: Options, stats: Stats, stop: asyncio.Event, behaviour=None, count: int | None = None):
        identities = options.identities()[:count]
        self.options, self.stats, self.stop, self.behaviour = options, stats, stop, behaviour
        self.tasks: list[asyncio.Task] = []
        self.starter: asyncio.Task | None = None
        if options.protocol == "kotodian":
            self.settings = kotodian_settings(options)
            self.boxes = [KotodianBox(serial, tag, self.settings, stats, stop, index)
                          for index, serial, tag in identities]
            return
        settings = BoxSettings(
            url=options.ws_url, connectors=options.connectors, meter_interval=options.meter_interval,
            heartbeat_interval=options.heartbeat, answer_delay=options.answer_delay,
            call_timeout=options.call_timeout, password=options.password,
            source_addresses=options.source_addresses,
        )
        self.settings = settings
        self.boxes = [OcppBox(serial, tag, settings, stats, stop, index) for index, serial, tag in identities]

    def start(self) -> None:
        self.starter = asyncio.create_task(self._start())

    async def _start(self) -> None:
        for n, box in enumerate(self.boxes, 1):
            if self.stop.is_set():
                return
            delay = random.uniform(0, self.options.ramp) if self.options.ramp else 0.0
            self.tasks.append(asyncio.create_task(self._run(box, delay)))
            if n % START_PER_TURN == 0:
                await asyncio.sleep(0)

    async def _run(self, box: OcppBox, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await box.run(self.behaviour)

    async def wait(self, predicate, timeout: float) -> float | None:
        """Seconds until ``predicate()`` held, polled every 50 ms; None when it did not within ``timeout``."""
        started = time.monotonic()
        while not predicate():
            if time.monotonic() - started > timeout or self.stop.is_set():
                return None
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def close(self) -> None:
        self.stop.set()
        if self.starter is not None:
            await self.starter
        if self.tasks:
            done, pending = await asyncio.wait(self.tasks, timeout=30)
            for task in pending:
                task.cancel()

    def ready_count(self) -> int:
        return sum(1 for box in self.boxes if box.ready.is_set())


async def idle(options: Options, stats: Stats, stop: asyncio.Event) -> dict:
    """Connect, boot, report status, then hold the connections (heartbeats only) for ``duration``.
    With ``--server-pid``: the server's RSS before and with every box connected."""
    before = rss_kib(options.server_pid)
    fleet = Fleet(options, stats, stop)
    fleet.start()
    took = await fleet.wait(lambda: stats.ready >= len(fleet.boxes), options.settle)
    figures = {"connected": stats.online, "booted": fleet.ready_count(),
               "seconds_to_all_ready": round(took, 2) if took is not None else None}
    stats.begin_window()
    samples = []
    deadline = time.monotonic() + options.duration
    while time.monotonic() < deadline and not stop.is_set():
        rss = rss_kib(options.server_pid)
        if rss is not None and before is not None and stats.online:
            samples.append(round((rss - before) / stats.online, 2))
        await asyncio.sleep(min(1.0, max(deadline - time.monotonic(), 0)))
    stats.end_window()
    figures["connected_at_end"] = stats.online
    if samples:
        figures.update(server_rss_before_kib=before, server_rss_kib=rss_kib(options.server_pid),
                       server_rss_per_connection_kib=samples[-1], server_rss_per_connection_samples=samples)
    await fleet.close()
    return figures


async def storm(options: Options, stats: Stats, stop: asyncio.Event) -> dict:
    """Every box connects, boots and reports status at once (or spread over ``ramp``), as after a
    power cut. Figures: how many were Accepted, and how long until the last one was ready."""
    fleet = Fleet(options, stats, stop)
    stats.begin_window()
    fleet.start()
    # The running count, not ``ready_count``: a sweep over 10,000 boxes every 50 ms was a twentieth
    # of the simulator's time in a storm.
    took = await fleet.wait(lambda: stats.ready >= len(fleet.boxes), options.settle)
    stats.end_window()
    accepted = sum(1 for box in fleet.boxes if box.boot_status == "Accepted")
    figures = {"connected": stats.online, "booted": fleet.ready_count(), "accepted": accepted,
               "seconds_to_all_ready": round(took, 2) if took is not None else None,
               # When the fleet started (CLOCK_MONOTONIC), for a caller timing from an event of its own.
               "t0_monotonic": stats.t0}
    if options.protocol == "kotodian":
        # Every answer's latency: the bench runs a Kotodian storm as several processes and takes the
        # percentiles over all their answers (bench.simsplit), which no process's own percentiles give.
        figures["window_latencies_s"] = {action: [round(s, 4) for s in series.between(*stats.window)]
                                         for action, series in stats.series.items()}
    await fleet.close()
    return figures


async def ingest(options: Options, stats: Stats, stop: asyncio.Event) -> dict:
    """Every box starts a session on connector 1 and sends MeterValues (4 sampled values) every
    ``meter_interval`` seconds; the window is ``duration`` seconds once every session runs."""

    async def charge(box: OcppBox) -> None:
        await box.start_session(1)

    fleet = Fleet(options, stats, stop, behaviour=charge)
    # A Kotodian box's samples are Telemetry (no reply: counted as published), one kind for all.
    meter = "Telemetry" if options.protocol == "kotodian" else "MeterValues"
    if options.protocol == "kotodian":
        fleet.settings.meter_kinds = ("Telemetry",)
    fleet.start()
    took = await fleet.wait(lambda: stats.charging >= len(fleet.boxes), options.settle)
    figures = {"connected": stats.online, "charging": stats.charging,
               "seconds_to_all_charging": round(took, 2) if took is not None else None,
               "offered_meter_values_per_s": round(stats.charging / options.meter_interval, 1)}
    stats.begin_window()
    figures["windows"] = []
    for _ in range(options.windows):
        # Consecutive slices of the window: one run gives several samples of the steady state.
        start = stats.now()
        await asyncio.sleep(options.duration / options.windows)
        end = stats.now()
        sent = stats.actions_between(start, end).get(meter, {"count": 0, "errors": 0})
        figures["windows"].append({**sent, "meter_values_per_s": round(sent["count"] / (end - start), 1),
                                   "errors_all": stats.errors_between(start, end),
                                   "loop_lag_p99_ms": stats.lag_between(start, end)["p99_ms"]})
    stats.end_window()
    if options.protocol == "kotodian":
        # Telemetry has no reply: when each left the box (CLOCK_MONOTONIC, the same in every process
        # of the machine) lets whoever watches the database tell publish-to-commit (bench.kotodian);
        # when the box called publish tells the box's own delay (KotodianBox.send).
        sent = stats.series[meter]
        figures["published_monotonic"] = [round(stats.t0 + at + delay, 4)
                                          for at, delay in zip(sent.at, sent.latency, strict=True)]
        figures["called_monotonic"] = [round(stats.t0 + at, 4) for at in sent.at]
        figures["t0_monotonic"] = stats.t0
    if options.end_sessions:
        await _bounded(asyncio.gather(*(box.stop_session(1) for box in fleet.boxes)), 60)
    await fleet.close()
    return figures


async def session(options: Options, stats: Stats, stop: asyncio.Event) -> dict:
    """A realistic day, compressed: boxes idle, a driver authorises, charges for about
    ``session_length`` seconds with meter values, stops, and another comes; heartbeats throughout;
    every call from the central system is answered and acted on."""

    async def day(box: OcppBox) -> None:
        while not stop.is_set():
            await box.pause(random.uniform(0.2, 1.0) * options.session_length / 2)
            connector = box.free_connector()
            if connector is None or stop.is_set():
                continue
            if await box.start_session(connector.id) is None:
                continue
            await box.pause(random.uniform(0.5, 1.5) * options.session_length)
            await box.stop_session(connector.id)

    fleet = Fleet(options, stats, stop, behaviour=day)
    fleet.start()
    stats.begin_window()
    await asyncio.sleep(options.duration)
    stats.end_window()
    figures = {"connected": stats.online, "booted": fleet.ready_count(), "charging_at_end": stats.charging}
    await fleet.close()
    return figures


async def _bounded(awaitable, seconds: float) -> None:
    try:
        await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        pass


def _reverse_session(options: Options) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        headers={"Authorization": f"Token {options.api_token}"},
        timeout=aiohttp.ClientTimeout(total=options.call_timeout + 30),
    )


async def reverse_call(http: aiohttp.ClientSession, options: Options, stats: Stats, method: str, body: dict) -> str:
    """One reverse-API call (EVCHONG 3); returns "Accepted", "Rejected: <message>" or "error"."""
    action = f"reverse {method}"
    started, t = stats.now(), time.perf_counter()
    try:
        async with http.post(options.url.rstrip("/") + REVERSE_PATH + method, json=body) as response:
            answer = await response.json(content_type=None)
            if response.status != 200:
                stats.error(action, f"HTTP {response.status}: {str(answer)[:80]}")
                return "error"
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        stats.error(action, type(exc).__name__)
        return "error"
    stats.record(action, started, time.perf_counter() - t)
    if answer.get("status") == "Accepted":
        return "Accepted"
    # Numbers (command ids, seconds) would make every refusal an outcome of its own.
    return re.sub(r"\d+", "N", f"Rejected: {answer.get('message', '')}")[:120]


def _round_figures(latencies: list[float], outcomes: Counter) -> dict:
    return {**summarise(latencies), "accepted": outcomes.get("Accepted", 0),
            "outcomes": dict(outcomes.most_common())}


async def reverse(options: Options, stats: Stats, stop: asyncio.Event) -> dict:
    """``concurrency`` reverse-API calls at once, one per box, for ``rounds`` rounds: a
    RemoteStartTransaction to a box whose connector 1 is free, a RemoteStopTransaction of the
    session to a box charging. Boxes answer after ``answer_delay`` and then act."""
    fleet = Fleet(options, stats, stop)
    fleet.start()
    await fleet.wait(lambda: stats.ready >= len(fleet.boxes), options.settle)
    targets = [box for box in fleet.boxes if box.ready.is_set()][: options.concurrency]
    rounds = []
    async with _reverse_session(options) as http:
        stats.begin_window()
        for _ in range(options.rounds):
            if stop.is_set():
                break

            async def one(box: OcppBox) -> tuple[float, str]:
                connector = box.connectors[1]
                t = time.perf_counter()
                if connector.transaction_id is not None:
                    outcome = await reverse_call(http, options, stats, "RemoteStopTransaction", {
                        "chargeBoxSerialNumber": box.serial, "transactionId": connector.transaction_id})
                else:
                    outcome = await reverse_call(http, options, stats, "RemoteStartTransaction", {
                        "chargeBoxSerialNumber": box.serial, "connectorId": 1, "idTag": box.id_tag})
                return time.perf_counter() - t, outcome

            results = await asyncio.gather(*(one(box) for box in targets))
            rounds.append(_round_figures([r[0] for r in results], Counter(r[1] for r in results)))
            # What the boxes do after answering (start or stop a session) is committed before the
            # next round, so that the next round finds every connector in a known state.
            await _bounded(asyncio.gather(*(box.settled() for box in targets)), options.call_timeout)
        stats.end_window()
    if options.end_sessions:
        # Left as found: a session still open would make the next run's remote starts refused.
        await _bounded(asyncio.gather(*(box.stop_session(1) for box in targets)), options.call_timeout)
    await fleet.close()
    return {"connected": len(targets), "concurrency": len(targets), "rounds": rounds}


async def contention(options: Options, stats: Stats, stop: asyncio.Event) -> dict:
    """``concurrency`` RemoteStartTransaction calls at once on connector 1 of one box (EVCHONG 1 g:
    exactly one may be Accepted), for ``rounds`` rounds; the box ends the session between rounds."""
    fleet = Fleet(options, stats, stop, count=1)
    fleet.start()
    await fleet.wait(lambda: stats.ready >= 1, options.settle)
    box = fleet.boxes[0]
    rounds = []
    async with _reverse_session(options) as http:
        stats.begin_window()
        for _ in range(options.rounds):
            if stop.is_set() or not box.ready.is_set():
                break

            async def one() -> tuple[float, str]:
                t = time.perf_counter()
                outcome = await reverse_call(http, options, stats, "RemoteStartTransaction", {
                    "chargeBoxSerialNumber": box.serial, "connectorId": 1, "idTag": box.id_tag})
                return time.perf_counter() - t, outcome

            results = await asyncio.gather(*(one() for _ in range(options.concurrency)))
            rounds.append(_round_figures([r[0] for r in results], Counter(r[1] for r in results)))
            await _bounded(box.settled(), options.call_timeout)
            await _bounded(box.stop_session(1), options.call_timeout)
        stats.end_window()
    await fleet.close()
    return {"connected": stats.online, "concurrency": options.concurrency, "rounds": rounds}


async def _rest_fleet(options: Options, stats: Stats, http: aiohttp.ClientSession) -> list[RestBox]:
    boxes = [RestBox(serial, tag, base_url=options.url, session=http, stats=stats, connectors=options.connectors,
                     password=options.password, timeout=options.call_timeout)
             for _, serial, tag in options.identities()]

    async def boot(box: RestBox) -> bool:
        try:
            return await box.boot() and (await box.report_status() or True)
        except RequestFailed:
            return False

    await _bounded(asyncio.gather(*(boot(box) for box in boxes)), options.settle)
    return boxes


def _rest_session(options: Options) -> aiohttp.ClientSession:
    # One keep-alive connection per box at most, as a box would hold.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, limit_per_host=0))


async def _loop_for(seconds: float, stop: asyncio.Event, step) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stop.is_set():
        try:
            await step()
        except RequestFailed:
            await asyncio.sleep(0.1)  # an error must not turn into a busy loop


async def rest_heartbeat(options: Options, stats: Stats, stop: asyncio.Event) -> dict:
    """Every box sends heartbeats, ``pace`` seconds apart (0: each box waits only for its answer)."""
    async with _rest_session(options) as http:
        boxes = await _rest_fleet(options, stats, http)

        async def beat(box: RestBox) -> None:
            await box.heartbeat()
            await box.pace(options.pace, stop)

        stats.begin_window()
        await asyncio.gather(*(_loop_for(options.duration, stop, lambda b=box: beat(b)) for box in boxes))
        stats.end_window()
    window = stats.report()["window"]
    return {"boxes_sending": len(boxes), "heartbeats_per_s": window["rate_per_s"]}


async def rest_meter(options: Options, stats: Stats, stop: asyncio.Event) -> dict:
    """Every box starts a session and sends meterValues (4 values), ``pace`` seconds apart."""
    async with _rest_session(options) as http:
        boxes = await _rest_fleet(options, stats, http)

        async def start(box: RestBox) -> bool:
            try:
                return await box.start()
            except RequestFailed:
                return False

        outcomes = await asyncio.gather(*(start(box) for box in boxes))
        started = [box for box, ok in zip(boxes, outcomes, strict=True) if ok]

        async def meter(box: RestBox) -> None:
            await box.meter_values(options.meter_interval)
            await box.pace(options.pace, stop)

        stats.begin_window()
        await asyncio.gather(*(_loop_for(options.duration, stop, lambda b=box: meter(b)) for box in started))
        stats.end_window()
        if options.end_sessions:
            await _bounded(asyncio.gather(*(box.stop() for box in started), return_exceptions=True), 60)
    window = stats.report()["window"]
    return {"boxes_sending": len(started), "meter_values_per_s": window["rate_per_s"]}


async def rest_session(options: Options, stats: Stats, stop: asyncio.Event) -> dict:
    """The realistic day of ``session`` on the REST API: heartbeats every interval, sessions with
    meterValues every ``meter_interval`` seconds."""
    async with _rest_session(options) as http:
        boxes = await _rest_fleet(options, stats, http)

        async def day(box: RestBox) -> None:
            interval = options.heartbeat or box.heartbeat_interval
            next_beat = time.monotonic() + random.uniform(0, interval)
            while not stop.is_set():
                try:
                    await box.pace(random.uniform(0.2, 1.0) * options.session_length / 2, stop)
                    if stop.is_set() or not await box.start():
                        continue
                    session_end = time.monotonic() + random.uniform(0.5, 1.5) * options.session_length
                    while time.monotonic() < session_end and not stop.is_set():
                        await box.pace(options.meter_interval, stop)
                        await box.meter_values(options.meter_interval)
                        if time.monotonic() >= next_beat:
                            await box.heartbeat()
                            next_beat = time.monotonic() + interval
                    await box.stop()
                except RequestFailed:
                    await box.pace(1.0, stop)

        stats.begin_window()
        tasks = [asyncio.create_task(day(box)) for box in boxes]
        await _bounded(stop.wait(), options.duration)
        stop.set()
        await _bounded(asyncio.gather(*tasks, return_exceptions=True), 60)
        stats.end_window()
    return {"boxes": len(boxes), "charging_at_end": stats.charging}


SCENARIOS = {
    "idle": idle,
    "storm": storm,
    "ingest": ingest,
    "session": session,
    "reverse": reverse,
    "contention": contention,
    "rest-heartbeat": rest_heartbeat,
    "rest-meter": rest_meter,
    "rest-session": rest_session,
}
# What a fleet of Kotodian boxes (--protocol kotodian) can do: the REST scenarios are REST's own.
KOTODIAN_SCENARIOS = frozenset({"idle", "storm", "ingest", "session", "reverse", "contention"})
