"""The REST box against the real forward API, and the simulator as its users run it: a process
with a scenario, a JSON report, and an exit status."""

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

import aiohttp
from django.core.management import call_command

from chargers.models import ChargeBox, Connector
from simulator.rest_box import RestBox
from simulator.stats import Stats, percentile, summarise, table
from transactions.models import MeterValue, Transaction

ROOT = Path(__file__).resolve().parents[2]


def simulate(url: str, *args: str, timeout: float = 120) -> tuple[int, dict]:
    result = subprocess.run([sys.executable, "-m", "simulator", *args, "--url", url, "--json", "--quiet"],
                            cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return result.returncode, json.loads(result.stdout)


def test_rest_box_runs_a_session_on_the_forward_api(live_server_url, transactional_db, provisioned):
    stats = Stats()

    async def day():
        async with aiohttp.ClientSession() as http:
            box = RestBox("SIM00001", "SIMTAG00001", base_url=live_server_url, session=http, stats=stats,
                          power_w=36000)
            assert await box.boot()
            await box.report_status()
            await box.heartbeat()
            assert await box.start()
            transaction_id = box.transaction_id
            await box.meter_values(1.0)
            await box.meter_values(1.0)
            await box.firmware_status("Downloaded")
            await box.stop()
            return transaction_id

    transaction_id = asyncio.run(day())
    tx = Transaction.objects.get(pk=transaction_id)
    assert tx.stopped_at is not None and tx.energy_wh > 0 and tx.id_tag == "SIMTAG00001"
    assert MeterValue.objects.filter(transaction=tx, measurand="Voltage", unit="V").count() == 2
    assert Connector.objects.get(box__serial="SIM00001", connector_id=1).status == "Available"
    assert ChargeBox.objects.get(serial="SIM00001").protocol == "evchong"
    assert stats.errors == []
    assert set(stats.series) >= {"rest deviceBoot", "rest statusNotify", "rest heartbeat", "rest authorize",
                                 "rest startTrans", "rest meterValues", "rest stopTrans", "rest firmwareStatusNotify"}


def test_storm_scenario_reports_every_box_accepted(live_server_url, transactional_db, provisioned):
    status, report = simulate(live_server_url, "storm", "--boxes", "3", "--settle", "30")
    assert status == 0, report["error_kinds"]
    assert (report["scenario"], report["accepted"], report["booted"], report["errors"]) == ("storm", 3, 3, 0)
    boot = report["actions"]["BootNotification"]
    assert boot["count"] == 3 and 0 < boot["p50_ms"] <= boot["p95_ms"] <= boot["p99_ms"] <= boot["max_ms"]
    assert report["actions"]["StatusNotification"]["count"] == 9  # connectors 0, 1 and 2 of each box
    # The simulator watched its own event loop throughout: a figure, not a placeholder.
    assert 0 <= report["loop_lag"]["p50_ms"] <= report["loop_lag"]["p99_ms"] <= report["loop_lag"]["max_ms"]


def test_ingest_scenario_measures_meter_values_in_windows(live_server_url, transactional_db, provisioned):
    status, report = simulate(live_server_url, "ingest", "--boxes", "2", "--meter-interval", "0.5",
                              "--duration", "2", "--windows", "2", "--settle", "30")
    assert status == 0, report["error_kinds"]
    assert report["charging"] == 2 and len(report["windows"]) == 2
    assert all(w["count"] > 0 and w["errors_all"] == 0 for w in report["windows"])
    # The sessions were ended at the end of the run.
    assert Transaction.objects.filter(stopped_at__isnull=True).count() == 0
    assert Transaction.objects.count() == 2


def test_contention_scenario_gets_exactly_one_start(live_server_url, transactional_db, provisioned, celery_worker):
    out = io.StringIO()
    call_command("apitoken", "simulator", stdout=out)
    status, report = simulate(live_server_url, "contention", "--boxes", "1", "--concurrency", "10", "--rounds", "2",
                              "--api-token", out.getvalue().strip())
    assert status == 0, report["error_kinds"]
    assert [r["accepted"] for r in report["rounds"]] == [1, 1]
    assert all(r["count"] == 10 for r in report["rounds"])
    # Each round's winner started a session, which the box ended before the next round.
    assert Transaction.objects.filter(stopped_at__isnull=False).count() == 2


def test_a_server_that_is_not_there_is_an_error_not_a_hang(transactional_db):
    status, report = simulate("http://127.0.0.1:9", "storm", "--boxes", "2", "--settle", "2", timeout=60)
    assert status == 1
    assert report["booted"] == 0 and report["error_kinds"]["connect: ConnectionRefusedError"] >= 2


def test_percentiles_are_nearest_rank():
    values = [v / 1000 for v in range(1, 101)]  # 1..100 ms
    assert percentile(values, 50) == 0.05 and percentile(values, 99) == 0.099 and percentile(values, 100) == 0.1
    assert summarise(values)["p99_ms"] == 99.0
    assert summarise([])["count"] == 0


def test_table_shows_each_action_and_the_window():
    stats = Stats()
    stats.record("Heartbeat", 0.0, 0.010)
    stats.begin_window()
    stats.record("MeterValues", stats.now(), 0.020)
    stats.error("MeterValues", "no answer in time")
    stats.end_window()
    text = table(stats.report(scenario="ingest", boxes=1))
    assert "Heartbeat" in text and "measured window" in text and "MeterValues: no answer in time" in text
    assert "event loop ran late" not in text  # it never did


def test_a_late_simulator_loop_is_reported_with_the_figures_it_inflated():
    stats = Stats()
    for at, lag in ((0.1, 0.001), (0.2, 0.002), (0.3, 0.450)):
        stats.loop_lag.at.append(at)
        stats.loop_lag.latency.append(lag)
    stats.window = (0.0, 0.5)  # seconds from the start of the run
    report = stats.report(scenario="storm", boxes=1)
    assert report["loop_lag"] == report["window"]["loop_lag"] == {"p50_ms": 2.0, "p99_ms": 450.0, "max_ms": 450.0}
    assert "the simulator's event loop ran late: p50 2 ms, p99 450 ms, max 450 ms" in table(report)
