"""One simulator fleet run as several processes side by side, and their reports merged into one.

On a 2-core machine one simulator process with 1,000-10,000 MQTT clients is itself a bottleneck:
its event loop lagged up to 110 ms in kotodian-ingest (and its own publish call took 70 ms at the
median, which the bench counted as the system's), seconds in kotodian-storm. Each process takes a
disjoint range of the provisioned boxes (``--first N --boxes M``); all start at once.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from simulator.scenarios import Options
from simulator.stats import summarise

# The lists a process reports per message: merged here, never kept in the results.
PER_MESSAGE = ("published_monotonic", "called_monotonic", "window_latencies_s")


def box_ranges(boxes: int, processes: int) -> list[tuple[int, int]]:
    """(first, count) of each process: consecutive from box 1, sizes differing by one at most."""
    processes = max(1, min(processes, boxes))
    size, extra = divmod(boxes, processes)
    ranges, first = [], 1
    for n in range(processes):
        count = size + (n < extra)
        ranges.append((first, count))
        first += count
    # Options.identities pads to the widest number of its own range, provisioning to the whole
    # fleet's: past 99,999 boxes the two would name different boxes (KSIM00001 against KSIM000001).
    fleet = [serial for _, serial, _ in Options(scenario="", boxes=boxes).identities()]
    for first, count in ranges:
        part = Options(scenario="", first=first, boxes=count).identities()
        if (part[0][1], part[-1][1]) != (fleet[first - 1], fleet[first + count - 2]):
            raise ValueError(f"{boxes} boxes cannot be split: serials of the parts would be padded differently")
    return ranges


def simulate_side_by_side(simulate, url: str, scenario: str, *args: str, boxes: int, processes: int,
                          timeout: float) -> list[dict]:
    """bench.run.simulate once per range of boxes, all at the same time; their reports in order."""
    ranges = box_ranges(boxes, processes)

    def one(part: tuple[int, int]) -> dict:
        first, count = part
        report = simulate(url, scenario, *args, "--first", str(first), "--boxes", str(count), timeout=timeout)
        return {**report, "first": first, "boxes": count}

    # Threads only wait for the processes: the simulators' CPU is their own.
    with ThreadPoolExecutor(len(ranges)) as pool:
        return list(pool.map(one, ranges))


def _total(reports: list[dict], key: str):
    values = [r.get(key) for r in reports]
    return None if any(v is None for v in values) else sum(values)


def _common(reports: list[dict]) -> dict:
    """What either scenario's merged report holds: totals, errors, and every process's own report
    (its loop lag, its actions) without the per-message lists."""
    kinds = Counter()
    for r in reports:
        kinds.update(r.get("error_kinds") or {})
    failed = [r["failed"] for r in reports if r.get("failed")]
    return {
        "boxes": sum(r.get("boxes") or 0 for r in reports),
        "connected": _total(reports, "connected"),
        "errors": _total(reports, "errors"),
        "error_kinds": dict(kinds.most_common()),
        "timed_out": any(r.get("timed_out") for r in reports),
        **({"failed": "; ".join(failed)} if failed else {}),
        "processes": [{k: v for k, v in r.items() if k not in PER_MESSAGE} for r in reports],
    }


def merge_ingest(reports: list[dict]) -> dict:
    """One ingest report of side-by-side processes, as bench.kotodian.ingest_figures reads it: the
    messages of all (CLOCK_MONOTONIC is one clock for every process of the machine), and as the
    measured window the part of the run that every process measured (each starts its own once its
    boxes all charge)."""
    merged = {"scenario": "ingest", **_common(reports),
              "charging": _total(reports, "charging"),
              "offered_meter_values_per_s": _total(reports, "offered_meter_values_per_s"),
              "published_monotonic": [t for r in reports for t in r.get("published_monotonic") or []],
              "called_monotonic": [t for r in reports for t in r.get("called_monotonic") or []]}
    windows = [r.get("windows") or [] for r in reports]
    merged["windows"] = [
        {"count": sum(w.get("count", 0) for w in same), "errors_all": sum(w.get("errors_all", 0) for w in same),
         "meter_values_per_s": round(sum(w.get("meter_values_per_s", 0) for w in same), 1),
         "loop_lag_p99_ms": max((w.get("loop_lag_p99_ms") or 0 for w in same), default=None)}
        for same in zip(*windows)]
    spans = [(r["t0_monotonic"] + r["window"]["start_s"], r["window"]["seconds"])
             for r in reports if r.get("t0_monotonic") is not None and r.get("window")]
    if spans and len(spans) == len(reports):
        t0 = min(r["t0_monotonic"] for r in reports)
        start, end = max(s for s, _ in spans), min(s + seconds for s, seconds in spans)
        merged["t0_monotonic"] = t0
        if end > start:
            merged["window"] = {"start_s": round(start - t0, 3), "seconds": round(end - start, 3)}
    return merged


def merge_storm(reports: list[dict]) -> dict:
    """One storm report of side-by-side processes: the fleet is ready when the last process's boxes
    are (never, if one process's were not), and each action's percentiles are taken over the
    answers of every process."""
    merged = {"scenario": "storm", **_common(reports),
              **{key: _total(reports, key) for key in ("booted", "accepted")}}
    t0s = [r.get("t0_monotonic") for r in reports]
    if None in t0s:
        merged.update(t0_monotonic=None, seconds_to_all_ready=None)
        return merged
    t0 = min(t0s)
    took = [r.get("seconds_to_all_ready") for r in reports]
    merged["t0_monotonic"] = t0
    merged["seconds_to_all_ready"] = (None if None in took else
                                      round(max(start + s for start, s in zip(t0s, took, strict=True)) - t0, 2))
    latencies: dict[str, list[float]] = {}
    errors = Counter()
    for r in reports:
        for action, values in (r.get("window_latencies_s") or {}).items():
            latencies.setdefault(action, []).extend(values)
        errors.update({a: s.get("errors", 0) for a, s in r.get("window", {}).get("actions", {}).items()})
    merged["window"] = {
        "actions": {a: {**summarise(latencies.get(a, [])), "errors": errors[a]}
                    for a in sorted(set(latencies) | set(errors))},
        # The slowest process's loop: the one whose boxes' latencies it inflated most.
        "loop_lag": {"p99_ms": max((r.get("window", r).get("loop_lag", {}).get("p99_ms") or 0 for r in reports))},
    }
    return merged
