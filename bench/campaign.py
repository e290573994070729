"""`make bench` scenario ``campaign`` (BENCH_ONLY=campaign): a firmware campaign over simulated OCPP
boxes that really fetch the image from the system's FTP server, at most ``at_once`` updating at a
time, driven by the Celery beat as under `make run` (FIRMWARE_CAMPAIGN_SECONDS, default 10 s).

Figures: seconds from the campaign's creation until every box is done or failed, the FTP
throughput (bytes fetched over the span from the first transfer's start to the last one's end),
the median time of one FTPS transfer as the server records it, and the FTP server's CPU (user +
system, /proc) per transfer. A plain FTP transfer goes out by sendfile, and the time pyftpdlib
records for it (0.0 ms on 6 December) says nothing: it stays in the JSON only.

Three processes besides the system's: the FTP server (`manage.py ftpserver`), the boxes (``boxes``
below, one asyncio process, its CPU not the server's), and the watcher (``watch``, Django: adds the
image, makes the campaign, polls its progress). Environment: BENCH_CAMPAIGN_BOXES (default 1,000;
100 with BENCH_QUICK), BENCH_CAMPAIGN_AT_ONCE (100; 20 quick), BENCH_FIRMWARE_KIB (1,024),
BENCH_CAMPAIGN_TLS_EVERY (2: every other box over FTPS; 0: none).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.system import BENCH_VAR, PREFIX, TAG_PREFIX, free_port, stop_process, wait_for_port  # noqa: E402

VERSION = "bench-2.0"


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far (its threads included), from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spread(values: list) -> dict:
    done = [v for v in values if v is not None]
    if not done:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": round(statistics.median(done), 2), "min": min(done), "max": max(done), "n": len(done)}


def _fleet_size(plan, provisioned: int) -> tuple[int, int]:
    boxes = int(os.environ.get("BENCH_CAMPAIGN_BOXES") or (100 if plan.quick else 1000))
    at_once = int(os.environ.get("BENCH_CAMPAIGN_AT_ONCE") or (20 if plan.quick else 100))
    return min(boxes, provisioned), at_once


def run_campaign(system, plan) -> dict:
    """The scenario, against a started ``bench.system.System``; its worker is restarted with the FTP
    server's address, since the beat's task writes the image's URL into each command."""
    boxes, at_once = _fleet_size(plan, plan.provisioned)
    first = random.randrange(42000, 60000)
    ftp_env = {
        "FTP_HOST": "127.0.0.1", "FTP_PUBLIC_HOST": "127.0.0.1", "FTP_PORT": str(free_port()),
        "FTP_PASSIVE_PORTS": f"{first}-{first + 299}", "MEDIA_ROOT": str(BENCH_VAR / "media"),
        "FTP_TLS_DIR": str(BENCH_VAR / "ftp"),
    }
    system.env.update(ftp_env)
    logs = system.log_dir
    ftp = subprocess.Popen([sys.executable, "manage.py", "ftpserver"], cwd=ROOT, env=system.env,
                           stdout=open(logs / "ftpserver.log", "ab"), stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, start_new_session=True)
    fleet = None
    work = Path(tempfile.mkdtemp(prefix="bench-campaign-"))
    try:
        wait_for_port(int(ftp_env["FTP_PORT"]), ftp)
        system.restart_worker()
        ready, fleet_report, watch_report = work / "ready", work / "fleet.json", work / "watch.json"
        settle = 60 + boxes / 50
        timeout = 900 + boxes * 2
        print(f"bench: campaign of {boxes} boxes, {at_once} at once", file=sys.stderr, flush=True)
        fleet = subprocess.Popen(
            [sys.executable, "-m", "bench.campaign", "boxes", "--url", system.url, "--boxes", str(boxes),
             "--ready", str(ready), "--report", str(fleet_report), "--settle", str(settle),
             "--timeout", str(timeout)],
            cwd=ROOT, env=system.env, stdout=open(logs / "campaign-boxes.log", "ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + settle + 30
        while not ready.exists() and time.monotonic() < deadline and fleet.poll() is None:
            time.sleep(0.5)
        watched = subprocess.run(
            [sys.executable, "-m", "bench.campaign", "watch", "--boxes", str(boxes), "--at-once", str(at_once),
             "--ftp-pid", str(ftp.pid), "--report", str(watch_report), "--timeout", str(timeout)],
            cwd=ROOT, env=system.env, stdout=open(logs / "campaign-watch.log", "ab"), stderr=subprocess.STDOUT,
            timeout=timeout + 120)
        stop_process(fleet, timeout=60)
        report = json.loads(watch_report.read_text()) if watch_report.exists() else {"failed": watched.returncode}
        report["fleet"] = json.loads(fleet_report.read_text()) if fleet_report.exists() else {}
    except (subprocess.TimeoutExpired, OSError, RuntimeError, ValueError) as exc:
        report = {"failed": repr(exc)}
    finally:
        stop_process(fleet)
        stop_process(ftp)
    return {"boxes": boxes, "runs": [report], "at_once": at_once, "figures": {
        "boxes at once (limit)": _spread([at_once]),
        "boxes updated": _spread([report.get("done")]),
        "boxes failed": _spread([report.get("failed_boxes")]),
        "seconds to done": _spread([report.get("seconds_to_done")]),
        "FTP MB/s over the campaign": _spread([report.get("ftp_mb_per_s")]),
        "one FTPS transfer ms (median)": _spread([report.get("ftps_transfer_median_ms")]),
        "transfers over FTPS": _spread([report.get("tls_transfers")]),
        "FTP server CPU ms per transfer": _spread([report.get("ftp_cpu_ms_per_transfer")]),
    }}


# -- the boxes: one asyncio process --------------------------------------------------------------


async def _boxes(args) -> dict:
    from simulator.scenarios import Fleet, Options
    from simulator.stats import Stats

    options = Options("campaign", url=args.url, boxes=args.boxes, prefix=PREFIX, tag_prefix=TAG_PREFIX,
                      ramp=min(30.0, args.boxes / 100), settle=args.settle)
    stats, stop = Stats(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    fleet = Fleet(options, stats, stop)
    # Every other box fetches over FTPS (explicit TLS), as a mixed fleet would: TLS is most of the
    # server's CPU per transfer, plain FTP goes out by sendfile.
    tls_every = int(os.environ.get("BENCH_CAMPAIGN_TLS_EVERY") or 2)
    for n, box in enumerate(fleet.boxes):
        if tls_every and n % tls_every == 0:
            box.settings = dataclasses.replace(box.settings, ftp_tls=True)
    fleet.start()
    seconds = await fleet.wait(lambda: fleet.ready_count() == args.boxes, args.settle)
    Path(args.ready).write_text(str(fleet.ready_count()))
    try:
        await asyncio.wait_for(stop.wait(), args.timeout)
    except asyncio.TimeoutError:
        pass
    updated = sum(1 for box in fleet.boxes if box.firmware_version == VERSION)
    ready_at_end = fleet.ready_count()
    await fleet.close()
    events = dict(stats.events)
    return {"ready_at_end": ready_at_end, "seconds_to_all_ready": seconds, "boxes_on_new_version": updated,
            "downloads": events.get("firmware downloads", 0), "bytes": events.get("firmware bytes", 0),
            "download_failures": events.get("firmware download failed", 0), "errors": len(stats.errors)}


def boxes_main(args) -> int:
    report = asyncio.run(_boxes(args))
    Path(args.report).write_text(json.dumps(report, indent=2))
    return 0


# -- the watcher: Django, against the bench's database ---------------------------------------------


def watch_main(args) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")
    import django

    django.setup()
    from django.core.files.base import ContentFile
    from django.db.models import Max, Min

    from firmware.campaigns import campaign_create, campaign_progress
    from firmware.models import FileTransfer
    from firmware.services import firmware_image_add
    from simulator.ocpp_box import SIM_FIRMWARE_MAGIC

    size = int(os.environ.get("BENCH_FIRMWARE_KIB") or 1024) * 1024
    content = SIM_FIRMWARE_MAGIC + VERSION.encode() + b"\n"
    content += os.urandom(size - len(content))
    image = firmware_image_add(file=ContentFile(content, name=f"{VERSION}.bin"), version=VERSION)
    width = max(5, len(str(args.boxes)))
    serials = [f"{PREFIX}{n:0{width}d}" for n in range(1, args.boxes + 1)]
    cpu_before = _cpu_seconds(args.ftp_pid)
    started = time.monotonic()
    campaign = campaign_create(name="bench", image=image, max_concurrent=args.at_once, serials=serials)
    progress = campaign_progress(campaign)
    while progress["finished"] < progress["total"] and time.monotonic() - started < args.timeout:
        time.sleep(1)
        progress = campaign_progress(campaign)
        print(json.dumps(progress["counts"]), flush=True)
    seconds = time.monotonic() - started
    cpu_after = _cpu_seconds(args.ftp_pid)
    transfers = FileTransfer.objects.filter(image=image, direction="download")
    whole = transfers.filter(completed=True)
    span = transfers.aggregate(first=Min("started"), last=Max("finished"))
    fetched = sum(whole.values_list("bytes", flat=True))
    elapsed = (span["last"] - span["first"]).total_seconds() if span["first"] else None
    # Each transfer's own time, FTP and FTPS apart (a median over the two together would fall
    # between them): the campaign's pace (the beat, the limit) aside.
    durations = {False: [], True: []}
    for t in whole.only("started", "finished", "tls"):
        durations[t.tls].append((t.finished - t.started).total_seconds())
    count = transfers.count()
    report = {
        "seconds_to_done": round(seconds, 1) if progress["finished"] == progress["total"] else None,
        "done": progress["counts"]["done"], "failed_boxes": progress["counts"]["failed"],
        "counts": progress["counts"], "image_bytes": size, "transfers": count, "whole_transfers": whole.count(),
        "tls_transfers": whole.filter(tls=True).count(), "bytes_fetched": fetched, "transfer_span_s": elapsed,
        "ftp_mb_per_s": round(fetched / elapsed / 1e6, 1) if elapsed else None,
        **{f"{kind}_transfer_median_ms": round(1000 * statistics.median(durations[tls]), 1) if durations[tls] else None
           for kind, tls in (("ftp", False), ("ftps", True))},
        "ftp_cpu_s": None if cpu_before is None or cpu_after is None else round(cpu_after - cpu_before, 2),
    }
    if report["ftp_cpu_s"] is not None and count:
        report["ftp_cpu_ms_per_transfer"] = round(1000 * report["ftp_cpu_s"] / count, 1)
    Path(args.report).write_text(json.dumps(report, indent=2))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    boxes = sub.add_parser("boxes", help="the simulated boxes, until SIGTERM or --timeout")
    boxes.add_argument("--url", required=True)
    boxes.add_argument("--boxes", type=int, required=True)
    boxes.add_argument("--ready", required=True, help="written once the fleet is ready (or --settle passed)")
    boxes.add_argument("--report", required=True)
    boxes.add_argument("--settle", type=float, default=120)
    boxes.add_argument("--timeout", type=float, default=1800)
    watch = sub.add_parser("watch", help="add the image, make the campaign, follow it to its end")
    watch.add_argument("--boxes", type=int, required=True)
    watch.add_argument("--at-once", type=int, required=True)
    watch.add_argument("--ftp-pid", type=int, required=True)
    watch.add_argument("--report", required=True)
    watch.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    return boxes_main(args) if args.part == "boxes" else watch_main(args)


if __name__ == "__main__":
    sys.exit(main())
