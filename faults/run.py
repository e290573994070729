"""`make chaos`: faults on purpose, under load, against the system as `make run` starts it (its
supervisor, two web processes, the Celery worker with its beat), on a PostgreSQL, Redis and MQTT
broker of its own under var/chaos that it stops and starts.

Ledger boxes (faults/ledger.py) charge all along and an API client issues commands; then, one
after the other: kill -9 of a web process, kill -9 of the worker, kill -9 of the FTP server (its
recovery: until a firmware image downloads intact again), kill -9 of the Kotodian bridge and the
MQTT broker stopped for a while (until a Kotodian box registers again), Redis stopped for a while and
started again, PostgreSQL likewise, then boxes that hang up on a command and reconnect. Afterwards every acknowledged message is looked up in the
database and every command's end is read. Printed per fault: sent, acknowledged, stored, lost,
duplicated, and recovery (seconds from the process's death or the dependency's return until a box
new to the connection boots and completes a session). Exits 1 when anything was lost or
duplicated, a command stayed open or was delivered twice, or a recovery took longer than
CHAOS_RECOVERY_MAX (10 s).

Knobs: CHAOS_BOXES (30), CHAOS_OUTAGE seconds (10), CHAOS_STEADY seconds between faults (10).
The supervisor keeps its state in var/chaos/run and every port is a free one, so a user's
`make run` in the same checkout is left alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import aiohttp
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.localservices import LocalServices  # noqa: E402
from core.stack import RESTARTS_FILE  # noqa: E402
from faults.ledger import Ledger, LedgerBox, kotodian_probe, probe  # noqa: E402

CHAOS_VAR = ROOT / (os.environ.get("CHAOS_VAR") or "var/chaos")
RUN_VAR = CHAOS_VAR / "run"  # the supervisor's own var/ (EVCHONG_VAR_DIR): a user's `make run` may be up
BOXES = int(os.environ.get("CHAOS_BOXES") or 30)
OUTAGE = float(os.environ.get("CHAOS_OUTAGE") or 10)
STEADY = float(os.environ.get("CHAOS_STEADY") or 10)
RECOVERY_MAX = float(os.environ.get("CHAOS_RECOVERY_MAX") or 10)
PREFIX, TAG_PREFIX = "CHAOS", "CHAOSTAG"
PROBES = 8  # boxes after the fleet's, one per probe
COMMANDS_PER_SECOND = 5
SETTLE_DEADLINE = 240  # s for every command to end: a box's timeout plus the command sweep's period


from core.ports import free_port  # noqa: E402


def serial(n: int) -> tuple[str, str]:
    return f"{PREFIX}{n:05d}", f"{TAG_PREFIX}{n:05d}"


class Stack:
    """`python -m core.stack` with the chaos services' URLs: the supervisor under test."""

    def __init__(self, env: dict[str, str]):
        self.port = free_port()
        self.env = {**os.environ, **env, "PORT": str(self.port), "WEB_PROCESSES": "2", "LOG_LEVEL": "WARNING",
                    "FTP_PORT": str(free_port()), "DJANGO_SETTINGS_MODULE": "evchong.settings",
                    "EVCHONG_VAR_DIR": str(RUN_VAR)}
        self.log = open(CHAOS_VAR / "stack.log", "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "core.stack"], cwd=ROOT, env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def children(self) -> dict:
        try:
            return json.loads((RUN_VAR / RESTARTS_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def kill(self, name: str) -> int:
        pid = self.children()[name]["pid"]
        os.kill(pid, signal.SIGKILL)
        return pid

    def manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, *args], cwd=ROOT, env=self.env, check=True, capture_output=True,
                              text=True).stdout

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


async def healthy(http: aiohttp.ClientSession, url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with http.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as response:
                if response.status == 200:
                    return True
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.25)
    return False


class Commands:
    """An API client issuing ChangeConfiguration(ChaosSeq=n) to the fleet, round robin: a command
    the API answered 202 is acknowledged and must end in a definite state, delivered once."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str, ledger: Ledger):
        self.http, self.url, self.ledger = http, url, ledger
        self.headers = {"Authorization": f"Token {token}"}
        self.issued: dict[int, tuple[int, str]] = {}  # sequence -> (command id, phase)
        self.sequence = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.sequence += 1
            box, _ = serial(1 + self.sequence % BOXES)
            phase = self.ledger.send("command")
            try:
                async with self.http.post(
                    f"{self.url}/api/v1/boxes/{box}/commands", headers=self.headers,
                    json={"action": "ChangeConfiguration", "payload": {"key": "ChaosSeq", "value": str(self.sequence)},
                          "wait": False},
                    timeout=aiohttp.ClientTimeout(total=10),
                ) as response:
                    if response.status == 202:
                        self.issued[self.sequence] = ((await response.json())["id"], phase)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            try:
                await asyncio.wait_for(stop.wait(), 1 / COMMANDS_PER_SECOND)
            except TimeoutError:
                pass


async def recovery(stack: Stack, http: aiohttp.ClientSession, since: float, probe_number: int) -> float | None:
    """Seconds from ``since`` until /healthz answers 200 and a new box completes a session."""
    deadline = since + 60
    if not await healthy(http, stack.url, deadline - time.monotonic()):
        return None
    box, tag = serial(BOXES + probe_number)
    done = await probe(stack.url.replace("http", "ws", 1) + "/ocpp", box, tag, deadline)
    return None if done is None else time.monotonic() - since


def firmware_fetch(url: str, sha256: str) -> bool:
    """The image at ``url`` (ftp://user:password@host:port/path) downloaded whole, as a box would."""
    import ftplib
    import hashlib
    from urllib.parse import unquote, urlsplit

    parts, digest = urlsplit(url), hashlib.sha256()
    try:
        with ftplib.FTP() as ftp:
            ftp.connect(parts.hostname, parts.port, timeout=5)
            ftp.login(unquote(parts.username), unquote(parts.password))
            ftp.retrbinary(f"RETR {unquote(parts.path)}", digest.update)
    except (OSError, ftplib.Error):
        return False
    return digest.hexdigest() == sha256


async def ftp_recovery(image: dict, since: float) -> float | None:
    """Seconds from ``since`` until the firmware image downloads again, intact."""
    while time.monotonic() < since + 60:
        if await asyncio.to_thread(firmware_fetch, image["url"], image["sha256"]):
            return time.monotonic() - since
        await asyncio.sleep(0.25)
    return None


def registration_account(services: LocalServices) -> tuple[str, int, str, str]:
    """The broker and the registration account Kotodian boxes leave the factory with (ADR 0021)."""
    from kotodian.mqttaccess import REGISTRATION, credentials

    account = credentials(services.mqtt_secret, REGISTRATION)
    host, port = services.mqtt_url.removeprefix("mqtt://").rsplit(":", 1)
    return host, int(port), account.username, account.password


async def kotodian_recovery(services: LocalServices, since: float, probe_number: int) -> float | None:
    """Seconds from ``since`` until a Kotodian box registers through the bridge again."""
    done = await kotodian_probe(registration_account(services), serial(BOXES + probe_number)[0], since + 60)
    return None if done is None else time.monotonic() - since


async def faults(stack: Stack, services: LocalServices, token: str, image: dict) -> dict:
    ledger, stop_boxes, stop_commands = Ledger(), asyncio.Event(), asyncio.Event()
    recoveries: dict[str, float | None] = {}
    async with aiohttp.ClientSession() as http:
        boxes = [LedgerBox(*serial(n), stack.url.replace("http", "ws", 1) + "/ocpp", ledger, stop_boxes)
                 for n in range(1, BOXES + 1)]
        tasks = [asyncio.create_task(box.run()) for box in boxes]
        commands = Commands(http, stack.url, token, ledger)
        tasks.append(asyncio.create_task(commands.run(stop_commands)))
        await asyncio.sleep(STEADY)

        async def process_killed(name: str, child: str, number: int) -> None:
            ledger.phase = name
            stack.kill(child)
            recoveries[name] = await recovery(stack, http, time.monotonic(), number)
            print(f"chaos: {name}: recovered in {recoveries[name]} s", flush=True)
            await asyncio.sleep(STEADY)

        async def dependency_down(name: str, down, up, number: int) -> None:
            ledger.phase = name
            await asyncio.to_thread(down)
            await asyncio.sleep(OUTAGE)
            await asyncio.to_thread(up)
            recoveries[name] = await recovery(stack, http, time.monotonic(), number)
            print(f"chaos: {name}: recovered in {recoveries[name]} s after {OUTAGE:g} s down", flush=True)
            await asyncio.sleep(STEADY)

        async def boxes_hang_up(name: str) -> None:
            """Boxes that drop their connection on receiving a command, and come back."""
            ledger.phase = name
            for n in range(int(STEADY)):
                ledger.hang_up.add(serial(1 + n % BOXES)[0])
                await asyncio.sleep(1)
            print(f"chaos: {name}: {int(STEADY)} boxes hung up on a command", flush=True)

        await process_killed("web-kill", "web-0", 1)
        await process_killed("worker-kill", "worker", 2)
        ledger.phase = "ftp-kill"
        stack.kill("ftp")
        recoveries["ftp-kill"] = await ftp_recovery(image, time.monotonic())
        print(f"chaos: ftp-kill: an image downloads again after {recoveries['ftp-kill']} s", flush=True)
        ledger.phase = "bridge-kill"
        stack.kill("kotodian-bridge")
        recoveries["bridge-kill"] = await kotodian_recovery(services, time.monotonic(), 5)
        print(f"chaos: bridge-kill: a Kotodian box registers again after {recoveries['bridge-kill']} s", flush=True)
        ledger.phase = "broker-restart"
        await asyncio.to_thread(services.mqtt_stop)
        await asyncio.sleep(OUTAGE)
        await asyncio.to_thread(services.mqtt_start)
        recoveries["broker-restart"] = await kotodian_recovery(services, time.monotonic(), 6)
        print(f"chaos: broker-restart: a Kotodian box registers again {recoveries['broker-restart']} s after the"
              f" broker's return", flush=True)
        await dependency_down("redis-restart", services.redis_stop, services.redis_start, 3)
        await dependency_down("postgres-restart", services.postgres_stop, services.postgres_start, 4)
        await boxes_hang_up("box-reconnect")
        ledger.phase = "after"
        stop_commands.set()
        settle_started = time.monotonic()
        open_commands = await settled(services.database_url, commands.issued)
        settle_seconds = time.monotonic() - settle_started
        stop_boxes.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"ledger": ledger, "recoveries": recoveries, "commands": commands.issued, "open": open_commands,
            "settle_seconds": settle_seconds}


async def settled(database_url: str, issued: dict[int, tuple[int, str]]) -> list[int]:
    """Command ids still open after SETTLE_DEADLINE."""
    ids = [command_id for command_id, _ in issued.values()]
    deadline = time.monotonic() + SETTLE_DEADLINE
    while True:
        with psycopg.connect(database_url) as conn:
            still = [row[0] for row in conn.execute(
                "SELECT id FROM commands_command WHERE id = ANY(%s) AND state IN ('queued', 'sent')", (ids,))]
        if not still or time.monotonic() > deadline:
            return still
        await asyncio.sleep(2)


def stored_counts(database_url: str) -> dict[str, Counter]:
    """(box, register reading) -> rows, for each kind of acknowledged message."""
    queries = {
        "start": "SELECT b.serial, t.meter_start_wh FROM transactions_transaction t JOIN chargers_chargebox b"
                 " ON b.id = t.box_id WHERE b.serial LIKE %s",
        "stop": "SELECT b.serial, t.meter_stop_wh FROM transactions_transaction t JOIN chargers_chargebox b"
                " ON b.id = t.box_id WHERE b.serial LIKE %s AND t.meter_stop_wh IS NOT NULL",
        "sample": "SELECT b.serial, m.value FROM transactions_metervalue m JOIN chargers_chargebox b ON b.id = m.box_id"
                  " WHERE b.serial LIKE %s AND m.context = 'Sample.Periodic'"
                  " AND m.measurand = 'Energy.Active.Import.Register'",
    }
    counts = {}
    with psycopg.connect(database_url) as conn:
        for kind, sql in queries.items():
            counts[kind] = Counter((box, int(value)) for box, value in conn.execute(sql, (PREFIX + "%",)))
    return counts


def figures(outcome: dict, counts: dict[str, Counter]) -> dict:
    ledger: Ledger = outcome["ledger"]
    rows: dict[str, dict] = defaultdict(lambda: Counter())
    for (phase, kind), n in ledger.sent.items():
        rows[phase]["sent"] += n
    for entry in ledger.acknowledged:
        found = counts[entry.kind][(entry.box, entry.key)]
        row = rows[entry.phase]
        row["acknowledged"] += 1
        row["stored"] += found > 0
        row["lost"] += found == 0
        row["duplicated"] += found > 1
    for sequence, (_, phase) in outcome["commands"].items():
        row = rows[phase]
        row["acknowledged"] += 1
        row["commands"] += 1
        row["stored"] += 1  # a 202 is a command row: its end is checked below
        row["duplicated"] += ledger.delivered[sequence] > 1
    return {phase: dict(row) for phase, row in rows.items()}


def report(outcome: dict, table: dict) -> bool:
    print(f"\n{'phase':<18}{'sent':>8}{'acked':>8}{'stored':>8}{'lost':>6}{'dup':>6}  recovery")
    for phase, row in table.items():
        recovery = outcome["recoveries"].get(phase, "")
        recovery = "never" if phase in outcome["recoveries"] and recovery is None else (
            f"{recovery:.1f} s" if recovery != "" else "")
        print(f"{phase:<18}{row.get('sent', 0):>8}{row.get('acknowledged', 0):>8}{row.get('stored', 0):>8}"
              f"{row.get('lost', 0):>6}{row.get('duplicated', 0):>6}  {recovery}")
    print(f"commands: {len(outcome['commands'])} acknowledged, {len(outcome['open'])} still open after "
          f"{outcome['settle_seconds']:.0f} s, {sum(n > 1 for n in outcome['ledger'].delivered.values())} delivered twice")
    lost = sum(row.get("lost", 0) for row in table.values())
    duplicated = sum(row.get("duplicated", 0) for row in table.values())
    slow = [name for name, seconds in outcome["recoveries"].items() if seconds is None or seconds > RECOVERY_MAX]
    ok = not lost and not duplicated and not outcome["open"] and not slow
    print(f"chaos: {'PASSED' if ok else 'FAILED'}: {lost} lost, {duplicated} duplicated, "
          f"{len(outcome['open'])} commands open, slow recoveries: {slow or 'none'}")
    return ok


def main() -> int:
    CHAOS_VAR.mkdir(parents=True, exist_ok=True)
    services = LocalServices(CHAOS_VAR).start()
    stack = None
    try:
        stack = Stack(services.environ())
        if not asyncio.run(_up(stack)):
            print(f"chaos: the system did not come up; see {CHAOS_VAR / 'stack.log'}", file=sys.stderr)
            return 1
        token = stack.manage("-m", "bench.provision", "--reset", "--boxes", str(BOXES + PROBES), "--connectors", "1",
                             "--prefix", PREFIX, "--tag-prefix", TAG_PREFIX, "--api-user", "chaos").split()[-1]
        firmware = CHAOS_VAR / "firmware.bin"
        firmware.write_bytes(os.urandom(256 * 1024))
        image = json.loads(stack.manage("manage.py", "addfirmware", str(firmware), "--version", "chaos-1"))
        if not firmware_fetch(image["url"], image["sha256"]):
            print("chaos: the firmware image does not download before any fault", file=sys.stderr)
            return 1
        started = time.monotonic()
        outcome = asyncio.run(faults(stack, services, token, image))
        table = figures(outcome, stored_counts(services.database_url))
        ok = report(outcome, table)
        (CHAOS_VAR / "results.json").write_text(json.dumps(
            {"phases": table, "recoveries": outcome["recoveries"], "commands_open": outcome["open"],
             "seconds": time.monotonic() - started}, indent=2))
        return 0 if ok else 1
    finally:
        if stack:
            stack.stop()
        services.stop()


async def _up(stack: Stack) -> bool:
    async with aiohttp.ClientSession() as http:
        return await healthy(http, stack.url, 120)


if __name__ == "__main__":
    sys.exit(main())
