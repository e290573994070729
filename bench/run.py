"""`make bench`: start the system (private PostgreSQL and Redis under var/bench, migrations, bulk
provisioning, daphne and a Celery worker as `make run` has them), run the simulator's scenarios
against it, then against the `ocpp`-library baseline (bench/baseline_cs.py), and write
bench/results/<date>.json and .md; the markdown table is printed too.

Every figure is the median of repeated runs (or rounds, or slices of one steady window), with
min and max. Everything talks to 127.0.0.1 only, and every run is bounded in time and count.

Environment:
  BENCH_QUICK=1       a smoke run of a few minutes at small scale
  BENCH_SCALE=F       multiply the default fleet sizes (default 1; the targets are for 10,000 boxes)
  BENCH_REPEATS=N     runs / rounds / windows per figure (default 3)
  BENCH_ONLY=a,b      only these scenarios (idle, storm, ingest, reverse100, reverse1000, contention,
                      rest-heartbeat, rest-meter, kotodian-ingest, kotodian-reverse, kotodian-storm,
                      campaign: bench/campaign.py)
  BENCH_BASELINE=0    skip the baseline
  BENCH_SIM_NICE=N    the simulator's niceness (default 10: the system comes first; 0: equal)
  BENCH_BROKER=amqtt  the Kotodian scenarios on the private amqtt of `make run` instead of a private
                      Mosquitto (the default where `mosquitto` is on PATH: bench/kotodian.py)
  BENCH_SIM_PROCESSES=N  simulator processes side by side for kotodian-ingest and kotodian-storm
                      (default: bench.kotodian.SIM_PROCESSES)
  BENCH_SERVER=uvicorn  serve the system with uvicorn instead of daphne (make run SERVER=uvicorn)
  WEB_PROCESSES=N     server processes on one socket (default as make run: one per core, at
                      most 2); idle always runs one, as its target counts
  BENCH_SETTINGS=mod  DJANGO_SETTINGS_MODULE for the system (a module overriding evchong.settings)
  BENCH_DB_SET=a=b,.. PostgreSQL settings of the bench database (synchronous_commit=off, ...)
  BENCH_VAR=dir       services and logs (default var/bench); BENCH_RESULTS=dir where results go
  ASGI_THREADS=N      daphne's thread pool for database work (default 32, as make run)
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.campaign import run_campaign  # noqa: E402
from bench import kotodian  # noqa: E402
from bench.system import BENCH_VAR, PREFIX, TAG_PREFIX, System, free_port, stop_process, wait_for_port  # noqa: E402
from core.stack import web_processes  # noqa: E402

RESULTS = ROOT / (os.environ.get("BENCH_RESULTS") or "bench/results")  # empty when make passes it unset
TARGET_BOXES = 10_000
# Loopback source addresses for the largest fleets: four times the ephemeral ports of one address,
# so that repeated 10,000-socket runs never wait for TIME_WAIT to drain.
SOURCES = "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4"
SERVER = os.environ.get("BENCH_SERVER") or "daphne"
SETTINGS = os.environ.get("BENCH_SETTINGS") or "evchong.settings"
# The simulator's boxes stand for boxes in the field, whose CPU is not the system's. Sharing this
# machine, it runs at a lower priority (nice), so that the system, not the load, comes first when
# both want a core; whether the load still went out as offered, its own figures say (published
# msg/s, publish delay, loop lag). BENCH_SIM_NICE=0 runs it at the system's priority.
SIM_NICE = int(os.environ.get("BENCH_SIM_NICE") or "10")


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes", "on"}


@dataclass
class Plan:
    """Fleet sizes and durations; defaults take about 15 minutes on a 2-core machine."""

    quick: bool
    scale: float
    repeats: int
    idle_boxes: int
    storm_boxes: int
    ingest_boxes: int
    ingest_seconds: float
    reverse_in_flight: int
    rest_seconds: float
    rest_concurrency: int = 50
    only: set[str] = field(default_factory=set)
    baseline: bool = True

    @classmethod
    def from_env(cls) -> "Plan":
        quick = env_flag("BENCH_QUICK")
        scale = float(os.environ.get("BENCH_SCALE") or "1")
        size = lambda n: max(10, int(n * scale))  # noqa: E731
        if quick:
            plan = cls(quick, scale, int(os.environ.get("BENCH_REPEATS") or "2"), size(300), size(100), size(100),
                       10.0, size(100), 5.0, rest_concurrency=20)
        else:
            # The storm is the target's own (10,000 boxes at once); ingest offers the target's rate
            # from 1,000 boxes (see run_ingest).
            plan = cls(quick, scale, int(os.environ.get("BENCH_REPEATS") or "3"), size(10_000), size(10_000),
                       size(1_000), 60.0, size(1_000), 10.0)
        plan.only = {s for s in (os.environ.get("BENCH_ONLY") or "").split(",") if s}
        plan.baseline = (os.environ.get("BENCH_BASELINE") or "1") != "0"
        return plan

    def wants(self, scenario: str) -> bool:
        return not self.only or scenario in self.only

    @property
    def provisioned(self) -> int:
        return max(self.idle_boxes, self.storm_boxes, self.ingest_boxes, self.reverse_in_flight, 100)


def simulate(url: str, scenario: str, *args: str, timeout: float) -> dict:
    """One simulator run in its own process (its CPU is not the server's), its JSON report."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        report_path = f.name
    command = [sys.executable, "-m", "simulator", scenario, "--url", url, "--prefix", PREFIX,
               "--tag-prefix", TAG_PREFIX, "--report", report_path, "--timeout", str(timeout), *args]
    shown = ["***" if i and args[i - 1] == "--api-token" else a for i, a in enumerate(args)]
    print(f"bench: {scenario} {' '.join(shown)}", file=sys.stderr, flush=True)
    try:
        subprocess.run(command, cwd=ROOT, timeout=timeout + 90, stdout=subprocess.DEVNULL,
                       preexec_fn=lambda: os.nice(SIM_NICE) if SIM_NICE else None)
        return json.loads(Path(report_path).read_text())
    except (subprocess.TimeoutExpired, ValueError, OSError) as exc:
        return {"scenario": scenario, "failed": repr(exc), "errors": None, "actions": {}}
    finally:
        Path(report_path).unlink(missing_ok=True)


def spread(values: list, unfinished: bool = False) -> dict:
    """Median, min and max of the runs' values. ``unfinished``: a None is a run that never got there
    (counted as such, not dropped as a missing figure)."""
    done = [v for v in values if v is not None]
    figure = ({"median": round(statistics.median(done), 2), "min": min(done), "max": max(done), "n": len(done)}
              if done else {"median": None, "min": None, "max": None, "n": 0})
    if unfinished:
        figure["unfinished"] = len(values) - len(done)
    return figure


def action(report: dict, name: str, figure: str, window: bool = True):
    actions = report.get("window", {}).get("actions", {}) if window else report.get("actions", {})
    return actions.get(name, {}).get(figure)


# -- the scenarios: each returns {"boxes": n, "figures": {name: spread}, "runs": [reports]} -------


def run_idle(url: str, plan: Plan, server_pid: int) -> dict:
    hold = 10 if plan.quick else 20
    # Ramped so that the connection rate stays under what the server accepts per second; the
    # figure is memory, not connection rate (that is the storm's).
    ramp = max(5.0, plan.idle_boxes / 150)
    # Boxes that are not connected when the settle time is up are not waited for: the figure is
    # how many one process holds, and the run stays bounded however slow the server is. Two
    # minutes past the ramp: a slower machine sets up fewer boxes a second than the ramp offers
    # (about 65 a second in one process on 2 December, against 125 the day before), and the boxes
    # it turns away come back; with 40 s, 8,259 of 10,000 were in when the time was up.
    settle = ramp + 120
    report = simulate(url, "idle", "--boxes", str(plan.idle_boxes), "--connectors", "1", "--ramp", str(ramp),
                      "--duration", str(hold), "--settle", str(settle), "--server-pid", str(server_pid),
                      "--source-addresses", SOURCES, timeout=settle + hold + 90)
    samples = report.get("server_rss_per_connection_samples") or []
    return {"boxes": plan.idle_boxes, "runs": [report], "figures": {
        "connections held": spread([report.get("connected_at_end")]),
        "RSS per connection KiB": spread(samples),
        "seconds to all connected": spread([report.get("seconds_to_all_ready")]),
        "errors": spread([report.get("errors")]),
    }}


# How late the simulator's own event loop ran: where it is hundreds of milliseconds, the simulator
# (sharing the machine's cores) set the pace as much as the server, and latencies include it.
SIMULATOR_LAG = "simulator loop lag p99 ms"


def run_storm(url: str, plan: Plan) -> dict:
    # The target's 60 s is the settle time: a box not ready by then has missed it.
    runs = [simulate(url, "storm", "--boxes", str(plan.storm_boxes), "--settle", "60", "--source-addresses", SOURCES,
                     timeout=150) for _ in range(plan.repeats)]
    return {"boxes": plan.storm_boxes, "runs": runs, "figures": {
        "boxes ready within 60 s": spread([r.get("booted") for r in runs]),
        "boxes Accepted": spread([r.get("accepted") for r in runs]),
        "seconds to all ready": spread([r.get("seconds_to_all_ready") for r in runs], unfinished=True),
        "boot answer p99 ms": spread([action(r, "BootNotification", "p99_ms") for r in runs]),
        "errors": spread([r.get("errors") for r in runs]),
        SIMULATOR_LAG: spread([r.get("window", r).get("loop_lag", {}).get("p99_ms") for r in runs]),
    }}


# Ingest offers this much more than the target's rate: a server that keeps up answers what is
# offered, and exactly 2,000 offered measured 1,992-2,001 per window, "not met" by a window's
# edges however fast the answers.
INGEST_MARGIN = 1.05


def ingest_interval(plan: Plan) -> float:
    """Seconds between a box's samples: the target's offered load (10,000 boxes every 5 s = 2,000
    msg/s) from the fleet we run, fewer boxes sampling more often, times INGEST_MARGIN."""
    return 5.0 * plan.ingest_boxes / TARGET_BOXES / INGEST_MARGIN


def run_ingest(url: str, plan: Plan) -> dict:
    interval = ingest_interval(plan)
    report = simulate(url, "ingest", "--boxes", str(plan.ingest_boxes), "--meter-interval", f"{interval:.3f}",
                      "--duration", str(plan.ingest_seconds), "--windows", str(plan.repeats), "--ramp", "5",
                      "--settle", "90", timeout=90 + plan.ingest_seconds + 120)
    windows = report.get("windows") or []
    return {"boxes": plan.ingest_boxes, "runs": [report], "meter_interval_s": interval, "figures": {
        "boxes charging": spread([report.get("charging")]),
        "offered msg/s": spread([report.get("offered_meter_values_per_s")]),
        "MeterValues msg/s": spread([w.get("meter_values_per_s") for w in windows]),
        "MeterValues p99 ms": spread([w.get("p99_ms") for w in windows]),
        "errors": spread([w.get("errors_all") for w in windows]),
        SIMULATOR_LAG: spread([w.get("loop_lag_p99_ms") for w in windows]),
    }}


def run_reverse(url: str, plan: Plan, token: str, in_flight: int, delay: float) -> dict:
    report = simulate(url, "reverse", "--boxes", str(in_flight), "--concurrency", str(in_flight),
                      "--answer-delay", str(delay), "--rounds", str(plan.repeats), "--api-token", token,
                      "--ramp", str(in_flight / 200), "--settle", "60", timeout=60 + plan.repeats * 60 + 60)
    rounds = report.get("rounds") or []
    return {"boxes": in_flight, "runs": [report], "figures": {
        "p50 ms": spread([r.get("p50_ms") for r in rounds]),
        "p99 ms": spread([r.get("p99_ms") for r in rounds]),
        "max ms": spread([r.get("max_ms") for r in rounds]),
        "answered Accepted": spread([r.get("accepted") for r in rounds]),
        "errors": spread([report.get("errors")]),
    }}


def run_contention(url: str, plan: Plan, token: str) -> dict:
    concurrency = 50 if plan.quick else 200
    report = simulate(url, "contention", "--boxes", "1", "--first", str(plan.provisioned + 1),
                      "--concurrency", str(concurrency), "--rounds", str(plan.repeats), "--api-token", token,
                      timeout=120 + plan.repeats * 30)
    rounds = report.get("rounds") or []
    return {"boxes": 1, "calls": concurrency, "runs": [report], "figures": {
        "Accepted per round": spread([r.get("accepted") for r in rounds]),
        "max ms": spread([r.get("max_ms") for r in rounds]),
        "p50 ms": spread([r.get("p50_ms") for r in rounds]),
        "errors": spread([report.get("errors")]),
    }}


def run_rest(url: str, plan: Plan, scenario: str) -> dict:
    method = "rest heartbeat" if scenario == "rest-heartbeat" else "rest meterValues"
    runs = [simulate(url, scenario, "--boxes", str(plan.rest_concurrency), "--duration", str(plan.rest_seconds),
                     timeout=plan.rest_seconds + 180) for _ in range(plan.repeats)]
    return {"boxes": plan.rest_concurrency, "runs": runs, "figures": {
        "req/s": spread([action(r, method, "count") / r["window"]["seconds"] if r.get("window") else None
                         for r in runs]),
        "p99 ms": spread([action(r, method, "p99_ms") for r in runs]),
        "errors": spread([r.get("window", {}).get("errors") for r in runs]),
    }}


TARGETS = {
    # scenario -> figure -> (comparison, value, how it reads)
    "idle": {"connections held": (">=", 10_000), "RSS per connection KiB": ("<=", 64)},
    "ingest": {"MeterValues msg/s": (">=", 2_000), "MeterValues p99 ms": ("<=", 100), "errors": ("<=", 0)},
    "storm": {"boxes ready within 60 s": ("==", "boxes"), "seconds to all ready": ("<=", 60),
              "boot answer p99 ms": ("<=", 2_000), "errors": ("<=", 0)},
    "reverse100": {"p50 ms": ("<=", 25), "p99 ms": ("<=", 100)},
    "reverse1000": {"max ms": ("<=", 5_000)},
    "contention": {"Accepted per round": ("==", 1), "max ms": ("<=", 2_000)},
    "rest-heartbeat": {"req/s": (">=", 1_000), "p99 ms": ("<=", 100)},
    "rest-meter": {"req/s": (">=", 500), "p99 ms": ("<=", 100)},
}
DESCRIPTIONS = {
    "idle": "idle connections, one server process",
    "storm": "reconnect storm: connect, boot, status",
    "ingest": "steady ingest, MeterValues (4 values)",
    "reverse100": "reverse API, 100 concurrent, answer at once",
    "reverse1000": "reverse API, 1,000 in flight, answer after 2 s",
    "contention": "remote starts on one connector",
    "rest-heartbeat": "forward REST API heartbeat",
    "rest-meter": "forward REST API meterValues",
    "campaign": "firmware campaign, boxes fetch over FTP",
}


TARGETS.update(kotodian.TARGETS)
DESCRIPTIONS.update(kotodian.DESCRIPTIONS)


def verdict(scenario: str, figure: str, value, boxes: int, unfinished: int = 0) -> str:
    """``unfinished``: runs that did not get as far as the figure measures (a time to all ready that
    never came); any such run misses the target, whatever the median of the others."""
    target = TARGETS.get(scenario, {}).get(figure)
    if target is None or (value is None and not unfinished):
        return ""
    op, bound = target
    if bound == "boxes":  # every box of the fleet
        bound = boxes
    ok = not unfinished and {">=": value >= bound, "<=": value <= bound, "==": value == bound}[op]
    return f"{op} {bound:,} {'met' if ok else 'NOT met'}"


def markdown(result: dict) -> str:
    def fmt(v) -> str:
        if v is None:
            return "-"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}".rstrip("0").rstrip(".")

    def cell(s: dict | None) -> str:
        if s is None:
            return ""
        text = f"{fmt(s['median'])} ({fmt(s['min'])}-{fmt(s['max'])})" if s["n"] > 1 else fmt(s["median"])
        if s.get("unfinished"):
            text += f"; {s['unfinished']} of {s['n'] + s['unfinished']} runs not done in time"
        return text

    machine = result["machine"]
    lines = [
        f"# make bench, {result['date']}",
        "",
        f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB; Python {machine['python']}; "
        f"server {result['config']['server']}; MQTT broker {result['config'].get('mqtt_broker', 'amqtt')}; "
        f"simulator at nice {result['config'].get('simulator_nice', 0)}; "
        f"commit {result['commit']}. "
        f"Figures: median (min-max) of {result['config']['repeats']} runs, rounds or windows.",
        "",
        "| scenario | boxes | figure | EVCHONG | baseline (`ocpp` lib) | target |",
        "|---|---:|---|---:|---:|---|",
    ]
    for name, scenario in result["scenarios"].items():
        base = result.get("baseline", {}).get(name, {}).get("figures", {})
        for figure, s in scenario["figures"].items():
            boxes = scenario.get("calls", scenario["boxes"])
            met = verdict(name, figure, s["median"], scenario["boxes"], unfinished=s.get("unfinished", 0))
            lines.append(f"| {DESCRIPTIONS[name]} | {boxes:,} | {figure} | {cell(s)} | {cell(base.get(figure))} | {met} |")
    config = result["config"]
    tuning = [f"{k}={v}" for k, v in (("settings", config["settings"]), ("ASGI_THREADS", config["asgi_threads"]),
                                      ("BENCH_DB_SET", config["db_set"])) if v and v != "evchong.settings"]
    if tuning:
        lines += ["", "Variant: " + ", ".join(tuning) + "."]
    if result["config"]["scale_note"]:
        lines += ["", result["config"]["scale_note"]]
    return "\n".join(lines) + "\n"


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
            "python": platform.python_version(), "kernel": platform.release()}


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout
    return head.strip() + ("+uncommitted changes" if dirty.strip() else "")


def run_system(plan: Plan, result: dict) -> None:
    system = System(plan.provisioned + 1, server=SERVER, settings=SETTINGS)  # +1: the contention box
    try:
        print(f"bench: starting the system ({plan.provisioned + 1} boxes provisioned)", file=sys.stderr, flush=True)
        system.start()
        scenarios = result["scenarios"]
        if plan.wants("idle"):
            # One process, as the target counts (connections held by one server process); fresh,
            # so that its RSS before the fleet is the baseline.
            system.restart_web(processes=1)
            scenarios["idle"] = run_idle(system.url, plan, system.web.pid)
        steps = [
            ("storm", lambda: run_storm(system.url, plan)),
            ("ingest", lambda: run_ingest(system.url, plan)),
            ("reverse100", lambda: run_reverse(system.url, plan, system.token, min(100, plan.reverse_in_flight), 0)),
            ("reverse1000", lambda: run_reverse(system.url, plan, system.token, plan.reverse_in_flight, 2)),
            ("contention", lambda: run_contention(system.url, plan, system.token)),
            ("rest-heartbeat", lambda: run_rest(system.url, plan, "rest-heartbeat")),
            ("rest-meter", lambda: run_rest(system.url, plan, "rest-meter")),
            ("campaign", lambda: run_campaign(system, plan)),
            *kotodian.steps(system, plan, simulate, spread, ingest_interval(plan)),
        ]
        for name, step in steps:
            if not plan.wants(name):
                continue
            system.reset_state()
            if system.web.poll() is not None:
                print("bench: the server died; restarting it", file=sys.stderr, flush=True)
            # A fresh server process for every scenario: what one scenario left behind (10,000
            # sockets closing, a grown heap, queued work) must not be charged to the next.
            system.restart_web()
            scenarios[name] = step()
    finally:
        system.stop()


def run_baseline(plan: Plan, result: dict) -> None:
    port = free_port()
    log = open(BENCH_VAR / "logs" / "baseline.log", "ab")
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "baseline_cs.py"), "--port", str(port)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, proc)
        baseline = result["baseline"]
        if plan.wants("idle"):
            baseline["idle"] = run_idle(url, plan, proc.pid)
        if plan.wants("storm"):
            baseline["storm"] = run_storm(url, plan)
        if plan.wants("ingest"):
            baseline["ingest"] = run_ingest(url, plan)
    finally:
        stop_process(proc)


def main() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 10,000 sockets and then some
    plan = Plan.from_env()
    started = time.monotonic()
    scale_note = ""
    if plan.ingest_boxes < TARGET_BOXES or plan.storm_boxes < TARGET_BOXES:
        scale_note = (f"Targets are for {TARGET_BOXES:,} boxes. Storm ran {plan.storm_boxes:,} boxes; ingest ran "
                      f"{plan.ingest_boxes:,} boxes sampling every {ingest_interval(plan):.3f} s, which offers "
                      f"{INGEST_MARGIN - 1:.0%} more than the target's 2,000 msg/s. BENCH_SCALE raises the fleets. "
                      f"The simulator shares the machine: its loop lag says how late it was itself.")
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "config": {"quick": plan.quick, "scale": plan.scale, "repeats": plan.repeats,
                   "server": SERVER, "web_processes": web_processes(os.environ),
                   "mqtt_broker": kotodian.broker_kind(), "simulator_nice": SIM_NICE,
                   "settings": SETTINGS, "scale_note": scale_note,
                   "asgi_threads": os.environ.get("ASGI_THREADS"), "db_set": os.environ.get("BENCH_DB_SET")},
        "scenarios": {},
        "baseline": {},
    }
    try:
        run_system(plan, result)
        if plan.baseline:
            run_baseline(plan, result)
    except KeyboardInterrupt:
        print("bench: interrupted; writing what was measured", file=sys.stderr)
    result["seconds"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    # UTC: importing Django's settings (for make run's daphne command) sets this process's TZ.
    stem = datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S") + ("-quick" if plan.quick else "")
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (RESULTS / f"{stem}.md").write_text(table)
    print(table)
    print(f"bench: {result['seconds']:.0f} s; results in {RESULTS / stem}.json and .md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
