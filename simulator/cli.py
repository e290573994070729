"""``evchong-simulate SCENARIO [options]`` (or ``python -m simulator``): run a fleet of simulated
charge boxes against a central system, show progress on one line of stderr, and report at the end
(a table on stdout; JSON with ``--json`` or into ``--report FILE``)."""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import time

import orjson

from simulator.scenarios import KOTODIAN_SCENARIOS, SCENARIOS, Options
from simulator.stats import Stats, table, watch_loop


def parse(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    p = argparse.ArgumentParser(
        prog="evchong-simulate",
        description="Simulated OCPP 1.6J, Kotodian (MQTT) and EVCHONG REST charge boxes for load tests and "
                    "demonstrations.",
        epilog="Boxes are PREFIX00001.. with id tags TAGPREFIX00001..; provision them on the central system first "
               "(manage.py addbox / addidtag).",
    )
    p.add_argument("scenario", choices=sorted(SCENARIOS), help="what the boxes do")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the central system (default %(default)s)")
    p.add_argument("--protocol", choices=["ocpp", "kotodian"], default="ocpp",
                   help="ocpp: OCPP 1.6J over WebSocket at --url; kotodian: protobuf APDUs over MQTT at --broker "
                        "(the reverse API still at --url)")
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883",
                   help="kotodian: the MQTT broker, mqtt://[user:password@]host:port (default %(default)s)")
    p.add_argument("--boxes", type=int, default=100)
    p.add_argument("--first", type=int, default=1, help="number of the first box (default %(default)s)")
    p.add_argument("--prefix", default="SIM", help="serial prefix (default %(default)s)")
    p.add_argument("--tag-prefix", default="SIMTAG", help="id tag prefix (default %(default)s)")
    p.add_argument("--connectors", type=int, default=2)
    p.add_argument("--password", help="OCPP Basic auth / REST credential of every box")
    p.add_argument("--duration", type=float, default=60.0, help="seconds measured (default %(default)s)")
    p.add_argument("--windows", type=int, default=1, help="ingest: measure the duration in this many slices")
    p.add_argument("--ramp", type=float, default=0.0, help="spread box start-up over this many seconds")
    p.add_argument("--settle", type=float, default=120.0,
                   help="seconds allowed for boxes to get ready before measuring (default %(default)s)")
    p.add_argument("--meter-interval", type=float, default=5.0, help="seconds between MeterValues")
    p.add_argument("--heartbeat", type=float, help="heartbeat seconds (default: what the central system says)")
    p.add_argument("--session-length", type=float, default=60.0, help="mean session seconds in session scenarios")
    p.add_argument("--answer-delay", type=float, default=0.0, help="seconds before a box answers a call")
    p.add_argument("--concurrency", type=int, default=100, help="reverse / contention: calls at once")
    p.add_argument("--rounds", type=int, default=3, help="reverse / contention: rounds")
    p.add_argument("--pace", type=float, default=0.0,
                   help="rest-heartbeat / rest-meter: seconds between a box's requests (0: back to back)")
    p.add_argument("--api-token", default="", help="reverse API token (manage.py apitoken USER)")
    p.add_argument("--call-timeout", type=float, default=30.0)
    p.add_argument("--source-addresses", default="",
                   help="comma-separated local addresses to spread connections over (127.0.0.1,127.0.0.2,...)")
    p.add_argument("--server-pid", type=int, help="a local server process whose RSS the idle scenario reports")
    p.add_argument("--keep-sessions", action="store_true", help="leave sessions running at the end (ingest)")
    p.add_argument("--seed", type=int, help="random seed, for repeatable runs")
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop",
                   help="event loop: uvloop (default) costs the simulator less CPU per message, which on a machine "
                        "shared with the central system is CPU the system under test does not get")
    p.add_argument("--timeout", type=float, help="hard limit for the whole run (default: settle + duration + 120 s)")
    p.add_argument("--report", help="write the JSON report to this file")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    args = p.parse_args(argv)
    options = Options(
        scenario=args.scenario, url=args.url, boxes=args.boxes, first=args.first, prefix=args.prefix,
        tag_prefix=args.tag_prefix, connectors=args.connectors, duration=args.duration, ramp=args.ramp,
        settle=args.settle, meter_interval=args.meter_interval, heartbeat=args.heartbeat,
        session_length=args.session_length, answer_delay=args.answer_delay, concurrency=args.concurrency,
        rounds=args.rounds, pace=args.pace, api_token=args.api_token, password=args.password,
        call_timeout=args.call_timeout,
        source_addresses=[a.strip() for a in args.source_addresses.split(",") if a.strip()],
        server_pid=args.server_pid, end_sessions=not args.keep_sessions, windows=max(args.windows, 1),
        protocol=args.protocol, broker=args.broker,
    )
    if args.protocol == "kotodian" and args.scenario not in KOTODIAN_SCENARIOS:
        p.error(f"--protocol kotodian takes the scenarios {', '.join(sorted(KOTODIAN_SCENARIOS))}")
    return options, args


def raise_open_files_limit() -> int:
    """Every box holds a socket: lift the soft limit on open files to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def progress(options: Options, stats: Stats, stream=sys.stderr) -> None:
    """One line, rewritten in place on a terminal; a plain line every 10 s into a file or pipe."""
    tty = stream.isatty()
    last_count, last_time, last_print = 0, time.monotonic(), 0.0
    while True:
        await asyncio.sleep(0.5)
        now = time.monotonic()
        rate = (stats.answered - last_count) / max(now - last_time, 1e-9)
        last_count, last_time = stats.answered, now
        line = (f"{options.scenario} {stats.now():6.1f}s  online {stats.online}/{options.boxes}  "
                f"ready {stats.ready}  charging {stats.charging}  waiting {stats.in_flight}  "
                f"answers {stats.answered} ({rate:,.0f}/s)  "
                f"errors {len(stats.errors)}  busy {len(stats.busy)}  "
                f"loop lag {1000 * max(stats.loop_lag.latency[-10:], default=0):,.0f} ms")
        if tty:
            stream.write("\r" + line[:150].ljust(150))
            stream.flush()
        elif now - last_print >= 10:
            stream.write(line + "\n")
            stream.flush()
            last_print = now


async def run(options: Options, timeout: float, show_progress: bool) -> dict:
    stats = Stats()
    stop = asyncio.Event()
    ticker = asyncio.create_task(progress(options, stats)) if show_progress else None
    watcher = asyncio.create_task(watch_loop(stats))
    timed_out = False
    scenario = asyncio.create_task(SCENARIOS[options.scenario](options, stats, stop))
    try:
        figures = await asyncio.wait_for(asyncio.shield(scenario), timeout)
    except TimeoutError:
        # Bounded whatever the server does: stop every box, then report what was measured.
        timed_out = True
        stop.set()
        try:
            figures = await asyncio.wait_for(scenario, 60)
        except TimeoutError:
            figures = {}
    finally:
        watcher.cancel()
        if ticker is not None:
            ticker.cancel()
            if sys.stderr.isatty():
                sys.stderr.write("\n")
    return stats.report(scenario=options.scenario, boxes=options.boxes, url=options.url, timed_out=timed_out,
                        **figures)


def run_on(loop: str, coroutine):
    if loop == "uvloop":
        import uvloop  # here, not at the top: --loop asyncio runs where uvloop does not (Windows)

        return uvloop.run(coroutine)
    return asyncio.run(coroutine)


def main(argv: list[str] | None = None) -> int:
    options, args = parse(argv)
    if args.seed is not None:
        random.seed(args.seed)
    limit = raise_open_files_limit()
    if options.boxes + 100 > limit:
        print(f"evchong-simulate: {options.boxes} boxes need more open files than the limit {limit}", file=sys.stderr)
        return 2
    timeout = args.timeout or options.settle + options.duration + 120
    try:
        report = run_on(args.loop, run(options, timeout, show_progress=not args.quiet))
    except KeyboardInterrupt:
        return 130
    encoded = orjson.dumps(report, option=orjson.OPT_INDENT_2)
    if args.report:
        with open(args.report, "wb") as f:
            f.write(encoded)
    if args.json:
        sys.stdout.write(encoded.decode() + "\n")
    else:
        print(table(report))
    # Non-zero when anything went wrong, so that a smoke run in CI fails loudly; boxes that were
    # never ready count, even when all they met was a busy server (HTTP 503, not an error).
    never_ready = "seconds_to_all_ready" in report and report["seconds_to_all_ready"] is None
    return 1 if report["errors"] or report["timed_out"] or never_ready else 0


if __name__ == "__main__":
    sys.exit(main())
