"""A box turned away by the server's admission control (HTTP 503 with Retry-After) backs off as
told, with jitter, and tries again: that is counted apart from errors. Real daphne processes."""

import itertools
import time

from boxrunner import BoxRunner
from test_simulator_rest_and_cli import simulate

from simulator.ocpp_box import BoxSettings, OcppBox, retry_after
from simulator.stats import Stats, table


def test_a_busy_server_is_retried_after_retry_after_and_is_no_error(start_daphne, transactional_db, provisioned):
    closed = start_daphne(OCPP_CONNECTING_MAX="0", OCPP_BUSY_RETRY_AFTER="1", OCPP_ADMISSION_WAIT="0")
    runner = BoxRunner(closed)
    try:
        box = OcppBox("SIM00001", "SIMTAG00001", BoxSettings(url=runner.ws_url, reconnect_min=0.1), runner.stats,
                      runner.stop)

        async def for_a_while():
            runner.tasks.append(runner.loop.create_task(box.run()))

        runner.run(for_a_while())
        time.sleep(3.5)
    finally:
        runner.close()
    turned_away = list(runner.stats.busy)
    # Retry-After 1, jittered to 1-2 s: two or three attempts in 3.5 s, never sooner than told.
    assert 2 <= len(turned_away) <= 4, turned_away
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(turned_away)), turned_away
    assert runner.stats.errors == [] and box.retry_after == 1.0


def test_the_report_counts_busy_refusals_apart_from_errors(start_daphne, transactional_db, provisioned):
    closed = start_daphne(OCPP_CONNECTING_MAX="0", OCPP_BUSY_RETRY_AFTER="1", OCPP_ADMISSION_WAIT="0")
    status, report = simulate(closed, "storm", "--boxes", "3", "--settle", "2", timeout=60)
    assert report["errors"] == 0 and report["busy_refusals"] >= 3
    assert report["window"]["busy_refusals"] == report["busy_refusals"]
    assert report["booted"] == 0 and status == 1  # not ready in time: the run still says it failed


def test_a_storm_on_a_server_admitting_two_at_a_time_gets_every_box_in(start_daphne, transactional_db, provisioned):
    narrow = start_daphne(OCPP_CONNECTING_MAX="1", OCPP_BUSY_RETRY_AFTER="1")
    status, report = simulate(narrow, "storm", "--boxes", "3", "--settle", "30")
    assert status == 0 and report["errors"] == 0, report["error_kinds"]
    assert report["accepted"] == 3


def test_retry_after_is_read_as_seconds():
    assert retry_after("5") == 5.0 and retry_after("0.5") == 0.5
    assert retry_after(None) is None and retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert retry_after("-1") is None


def test_the_table_shows_busy_refusals():
    stats = Stats()
    stats.turned_away()
    text = table(stats.report(scenario="storm", boxes=1))
    assert "turned away busy (HTTP 503" in text and ": 1" in text and "0 errors" in text
