"""What a simulator run measured: every exchange with its latency, every error, and the report.

Samples are kept whole (two floats each), not in histograms: a 10,000-box, 60 s ingest run is a
few hundred thousand samples, and exact percentiles of a chosen window are then simple to take.
"""

from __future__ import annotations

import asyncio
import math
import time
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarise(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    n = len(ordered)
    ms = lambda v: round(v * 1000, 2)  # noqa: E731
    return {
        "count": n,
        "p50_ms": ms(percentile(ordered, 50)) if n else None,
        "p95_ms": ms(percentile(ordered, 95)) if n else None,
        "p99_ms": ms(percentile(ordered, 99)) if n else None,
        "max_ms": ms(ordered[-1]) if n else None,
        "mean_ms": ms(sum(ordered) / n) if n else None,
    }


@dataclass
class Series:
    at: array = field(default_factory=lambda: array("d"))  # seconds since the run began
    latency: array = field(default_factory=lambda: array("d"))  # seconds

    def between(self, start: float, end: float) -> list[float]:
        """The latencies of the exchanges started in [start, end)."""
        return [latency for at, latency in zip(self.at, self.latency, strict=True) if start <= at < end]


class Stats:
    """Shared by every box of a run; single-threaded (one event loop), so no locks."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.series: dict[str, Series] = defaultdict(Series)
        self.errors: list[tuple[float, str, str]] = []  # (at, action, kind)
        # Connection attempts answered HTTP 503 (the server's admission control): the box backs off
        # and retries as told, so these are not errors; how many there were says how busy it was.
        self.busy = array("d")
        self.events: Counter[str] = Counter()
        self.calls_answered: Counter[str] = Counter()  # central-system calls the boxes answered
        self.window: tuple[float, float | None] | None = None
        self.answered = 0  # running total, for the progress line
        self.online = 0  # boxes connected now
        self.ready = 0  # boxes booted and reporting
        self.charging = 0  # sessions running now
        self.in_flight = 0  # calls sent and not yet answered
        self.gauges: dict = {}  # scenario figures that go into the report as they are
        # How late the simulator's own event loop ran its timers (``watch_loop``): every figure
        # above includes it, so a late loop means the simulator, not the server, set the pace.
        self.loop_lag = Series()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def record(self, action: str, started: float, latency: float) -> None:
        """An exchange that got its answer: ``started`` from ``now()``, ``latency`` in seconds."""
        series = self.series[action]
        series.at.append(started)
        series.latency.append(latency)
        self.answered += 1

    def lag_between(self, start: float, end: float) -> dict:
        summary = summarise(self.loop_lag.between(start, end))
        return {k: v for k, v in summary.items() if k in ("p50_ms", "p99_ms", "max_ms")}

    def error(self, action: str, kind: str) -> None:
        self.errors.append((self.now(), action, kind))

    def turned_away(self) -> None:
        self.busy.append(self.now())

    def begin_window(self) -> None:
        """From now on is the part of the run that the scenario's figures are about."""
        self.window = (self.now(), None)

    def end_window(self) -> None:
        if self.window is not None:
            self.window = (self.window[0], self.now())

    def answered_in(self, start: float, end: float) -> int:
        return sum(sum(1 for t in s.at if start <= t < end) for s in self.series.values())

    def actions_between(self, start: float, end: float) -> dict[str, dict]:
        return self._actions(start, end)

    def errors_between(self, start: float, end: float) -> int:
        return sum(1 for t, _, _ in self.errors if start <= t < end)

    def _actions(self, start: float, end: float) -> dict[str, dict]:
        out = {}
        for action in sorted(self.series):
            s = self.series[action]
            picked = s.between(start, end)
            errors = sum(1 for t, a, _ in self.errors if a == action and start <= t < end)
            if picked or errors:
                out[action] = {**summarise(picked), "errors": errors}
        for action in sorted({a for t, a, _ in self.errors if start <= t < end} - set(out)):
            errors = sum(1 for t, a, _ in self.errors if a == action and start <= t < end)
            out[action] = {**summarise([]), "errors": errors}
        return out

    def _errors(self, start: float, end: float) -> dict[str, int]:
        return dict(Counter(f"{a}: {k}" for t, a, k in self.errors if start <= t < end).most_common())

    def report(self, **about) -> dict:
        end = self.now()
        report = {
            **about,
            "duration_s": round(end, 3),
            "messages": self.answered_in(0, end + 1),
            "errors": len(self.errors),
            "busy_refusals": len(self.busy),
            "error_kinds": self._errors(0, end + 1),
            "events": dict(self.events),
            "calls_answered": dict(self.calls_answered),
            "actions": self._actions(0, end + 1),
            "loop_lag": self.lag_between(0, end + 1),
            **self.gauges,
        }
        if self.window is not None:
            start, stop = self.window[0], self.window[1] if self.window[1] is not None else end
            span = max(stop - start, 1e-9)
            answered = self.answered_in(start, stop)
            report["window"] = {
                "start_s": round(start, 3),
                "seconds": round(span, 3),
                "messages": answered,
                "rate_per_s": round(answered / span, 1),
                "errors": sum(1 for t, _, _ in self.errors if start <= t < stop),
                "busy_refusals": sum(1 for t in self.busy if start <= t < stop),
                "error_kinds": self._errors(start, stop),
                "actions": self._actions(start, stop),
                "loop_lag": self.lag_between(start, stop),
            }
        return report


# The simulator's loop is watched this often; a tick that comes this much later than asked for
# is reported in the table.
LAG_TICK = 0.05
LAG_WORTH_SAYING = 0.1


async def watch_loop(stats: Stats) -> None:
    """Sample how late the event loop wakes a sleeper: with thousands of boxes in one process the
    simulator can become the bottleneck (a reconnect storm of 10,000 boxes kept it 80-90 % busy),
    and then its latencies are its own as much as the server's."""
    while True:
        started = time.monotonic()
        await asyncio.sleep(LAG_TICK)
        stats.loop_lag.at.append(stats.now())
        stats.loop_lag.latency.append(max(time.monotonic() - started - LAG_TICK, 0.0))


def table(report: dict) -> str:
    """The report for people: one line per action, then the totals."""
    lines = [
        f"scenario {report.get('scenario', '?')}: {report.get('boxes', 0)} boxes, {report['duration_s']:.1f} s, "
        f"{report['messages']} answered messages, {report['errors']} errors",
    ]
    if report.get("busy_refusals"):
        lines.append(f"  connection attempts turned away busy (HTTP 503, retried after Retry-After, "
                     f"not errors): {report['busy_refusals']}")

    def rows(actions: dict, indent: str = "  ") -> None:
        heads = "".join(f"{h:>10}" for h in ("p50 ms", "p95 ms", "p99 ms", "max ms"))
        lines.append(f"{indent}{'action':<34}{'count':>9}{'errors':>8}{heads}")
        for action, a in actions.items():
            cell = lambda v: f"{v:>10.1f}" if v is not None else f"{'-':>10}"  # noqa: E731
            lines.append(
                f"{indent}{action:<34}{a['count']:>9}{a['errors']:>8}"
                f"{cell(a['p50_ms'])}{cell(a['p95_ms'])}{cell(a['p99_ms'])}{cell(a['max_ms'])}"
            )

    rows(report["actions"])
    if "window" in report:
        w = report["window"]
        lines.append(
            f"measured window: {w['seconds']:.1f} s from {w['start_s']:.1f} s, {w['messages']} messages, "
            f"{w['rate_per_s']:.1f}/s, {w['errors']} errors"
        )
        rows(w["actions"])
    lag = report.get("window", report).get("loop_lag") or {}
    if (lag.get("p99_ms") or 0) >= LAG_WORTH_SAYING * 1000:
        lines.append(f"the simulator's event loop ran late: p50 {lag['p50_ms']:.0f} ms, p99 {lag['p99_ms']:.0f} ms, "
                     f"max {lag['max_ms']:.0f} ms (the latencies above include it: the simulator was busy)")
    if report["error_kinds"]:
        lines.append("errors:")
        lines.extend(f"  {count:>7}  {kind}" for kind, count in list(report["error_kinds"].items())[:15])
    extra = {k: v for k, v in report.items() if k in ("connected", "booted", "accepted", "rejected", "outcomes")}
    if extra:
        lines.append("  ".join(f"{k}: {v}" for k, v in extra.items()))
    return "\n".join(lines)
