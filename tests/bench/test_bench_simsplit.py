"""bench.simsplit: a Kotodian fleet split over simulator processes, and their reports merged into
the one report the bench's figures are taken from. No system runs: the reports are as the
simulator writes them (simulator.scenarios.ingest and storm), cut down to a few messages."""

from __future__ import annotations

import pytest

from bench.kotodian import CommitProbe, ingest_figures
from bench.simsplit import box_ranges, merge_ingest, merge_storm, simulate_side_by_side
from simulator.scenarios import Options


def test_the_ranges_cover_the_fleet_once_and_name_the_provisioned_serials():
    assert box_ranges(10_000, 4) == [(1, 2500), (2501, 2500), (5001, 2500), (7501, 2500)]
    assert box_ranges(1_001, 2) == [(1, 501), (502, 500)]
    assert box_ranges(3, 8) == [(1, 1), (2, 1), (3, 1)]  # never an empty process
    provisioned = [serial for _, serial, _ in Options(scenario="", boxes=10_000, prefix="KSIM").identities()]
    split = [serial for first, count in box_ranges(10_000, 3)
             for _, serial, _ in Options(scenario="", first=first, boxes=count, prefix="KSIM").identities()]
    assert split == provisioned and split[-1] == "KSIM10000"


def test_a_fleet_whose_parts_would_be_numbered_differently_is_not_split():
    with pytest.raises(ValueError, match="padded differently"):
        box_ranges(100_000, 2)  # KSIM000001 provisioned, KSIM00001 simulated
    assert box_ranges(100_000, 1) == [(1, 100_000)]


def test_every_process_gets_its_range_and_its_report_says_which():
    calls = []

    def simulate(url, scenario, *args, timeout):
        calls.append(args)
        return {"scenario": scenario, "errors": 0}

    reports = simulate_side_by_side(simulate, "http://x", "storm", "--settle", "60", boxes=10, processes=2,
                                    timeout=5)
    assert sorted(calls) == [("--settle", "60", "--first", "1", "--boxes", "5"),
                             ("--settle", "60", "--first", "6", "--boxes", "5")]
    assert [(r["first"], r["boxes"]) for r in reports] == [(1, 5), (6, 5)]


def ingest_report(t0: float, start_s: float, seconds: float, published: list[float], **more) -> dict:
    return {"scenario": "ingest", "boxes": 2, "connected": 2, "charging": 2, "errors": 1,
            "error_kinds": {"Telemetry: MqttCodeError": 1}, "offered_meter_values_per_s": 4.0,
            "published_monotonic": published, "called_monotonic": [t - 0.001 for t in published],
            "t0_monotonic": t0, "window": {"start_s": start_s, "seconds": seconds, "loop_lag": {"p99_ms": 5.0}},
            "windows": [{"count": len(published), "errors_all": 1, "meter_values_per_s": 4.0,
                         "loop_lag_p99_ms": 5.0}], **more}


def test_ingest_reports_merge_into_the_window_every_process_measured():
    # Process 1 measured 101..111, process 2 (started later) 102..112: the merged window is 102..111.
    one = ingest_report(100.0, 1.0, 10.0, [102.5, 104.0])
    two = ingest_report(100.5, 1.5, 10.0, [103.0, 110.0], windows=[{"count": 2, "errors_all": 0,
                                                                     "meter_values_per_s": 4.2,
                                                                     "loop_lag_p99_ms": 9.0}])
    merged = merge_ingest([one, two])
    assert merged["t0_monotonic"] == 100.0 and merged["window"] == {"start_s": 2.0, "seconds": 9.0}
    assert sorted(merged["published_monotonic"]) == [102.5, 103.0, 104.0, 110.0]
    assert len(merged["called_monotonic"]) == 4
    assert (merged["boxes"], merged["charging"], merged["errors"]) == (4, 4, 2)
    assert merged["offered_meter_values_per_s"] == 8.0
    assert merged["error_kinds"] == {"Telemetry: MqttCodeError": 2}
    assert merged["windows"] == [{"count": 4, "errors_all": 1, "meter_values_per_s": 8.2, "loop_lag_p99_ms": 9.0}]
    # Each process's own report stays, for its loop lag, without the per-message lists.
    assert [p["window"]["loop_lag"]["p99_ms"] for p in merged["processes"]] == [5.0, 5.0]
    assert all("published_monotonic" not in p for p in merged["processes"])

    # What the figures make of it: the four messages, each committed 10 ms after it left the box.
    probe = CommitProbe(system=None)
    probe.samples = [(100.0, 0), (102.51, 1), (103.01, 2), (104.01, 3), (110.01, 4)]
    (figures,) = ingest_figures(merged, probe)
    assert figures["count"] == 4 and figures["max_ms"] == pytest.approx(10.0)
    assert figures["delay"]["p50_ms"] == pytest.approx(1.0)


def test_ingest_processes_that_never_measured_together_give_no_window():
    merged = merge_ingest([ingest_report(100.0, 1.0, 5.0, [101.0]), ingest_report(100.0, 7.0, 5.0, [107.0])])
    assert "window" not in merged


def test_a_failed_process_leaves_no_window_and_says_so():
    failed = {"scenario": "ingest", "failed": "TimeoutExpired(...)", "errors": None, "actions": {}}
    merged = merge_ingest([ingest_report(100.0, 1.0, 10.0, [102.0]), failed])
    assert "window" not in merged and merged["errors"] is None and "TimeoutExpired" in merged["failed"]


def storm_report(t0: float, took: float | None, booted: int, boot_latencies: list[float], lag: float) -> dict:
    return {"scenario": "storm", "boxes": 3, "connected": booted, "booted": booted, "accepted": booted, "errors": 0,
            "error_kinds": {}, "seconds_to_all_ready": took, "t0_monotonic": t0,
            "window_latencies_s": {"BootNotification": boot_latencies},
            "window": {"actions": {"BootNotification": {"p99_ms": max(boot_latencies) * 1000, "errors": 0}},
                       "loop_lag": {"p99_ms": lag}}}


def test_the_storm_is_over_when_the_last_process_has_every_box_ready():
    # Process 2 started 0.5 s later and took 20 s: the fleet was ready 20.5 s after the first began.
    merged = merge_storm([storm_report(50.0, 12.0, 3, [0.1, 0.2, 0.3], 40.0),
                          storm_report(50.5, 20.0, 3, [1.0, 2.0, 3.0], 900.0)])
    assert merged["t0_monotonic"] == 50.0 and merged["seconds_to_all_ready"] == 20.5
    assert (merged["boxes"], merged["booted"], merged["accepted"], merged["errors"]) == (6, 6, 6, 0)
    boot = merged["window"]["actions"]["BootNotification"]
    # Percentiles over all six answers, not a process's own: the median is the 3rd fastest (0.3 s).
    assert (boot["count"], boot["p50_ms"], boot["p99_ms"]) == (6, 300.0, 3000.0)
    assert merged["window"]["loop_lag"]["p99_ms"] == 900.0
    assert [p["window"]["loop_lag"]["p99_ms"] for p in merged["processes"]] == [40.0, 900.0]
    assert all("window_latencies_s" not in p for p in merged["processes"])


def test_a_storm_process_whose_boxes_were_not_all_ready_leaves_the_fleet_not_ready():
    merged = merge_storm([storm_report(50.0, 12.0, 3, [0.1], 1.0), storm_report(50.0, None, 2, [0.2], 1.0)])
    assert merged["seconds_to_all_ready"] is None and merged["booted"] == 5
