"""The charts on a session's admin page: energy, power, current, voltage and state of charge."""

from __future__ import annotations

from collections import defaultdict

from django.utils.safestring import SafeString

from operations.charts import Series, line_chart
from transactions.models import MeterValue, Transaction

# (title, unit shown, measurand, divisor from the canonical unit)
CHARTS = [
    ("Energy", "kWh", "Energy.Active.Import.Register", 1000),
    ("Power", "kW", "Power.Active.Import", 1000),
    ("Current", "A", "Current.Import", 1),
    ("Voltage", "V", "Voltage", 1),
    ("State of charge", "%", "SoC", 1),
]


def session_charts(transaction: Transaction) -> list[SafeString]:
    """One chart per measurand, one line per phase. A single query over the (transaction, timestamp)
    index; long sessions are thinned to the chart's width by charts.thin."""
    rows = (
        MeterValue.objects.filter(
            transaction=transaction, measurand__in=[m for _, _, m, _ in CHARTS], value__isnull=False
        )
        .order_by("timestamp")
        .values_list("measurand", "phase", "location", "timestamp", "value")
    )
    lines: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for measurand, phase, location, at, value in rows.iterator(chunk_size=5000):
        label = " ".join(part for part in (phase, location if location not in ("", "Outlet") else "") if part)
        lines[measurand][label or "total"].append((at, value))
    register = lines.get("Energy.Active.Import.Register", {})
    for label, points in register.items():
        # The register counts from the meter's life start; the chart shows this session's energy.
        # Boxes that count a session from 0 already report it that way.
        if points and points[0][1] >= transaction.meter_start_wh:
            register[label] = [(at, value - transaction.meter_start_wh) for at, value in points]
    return [
        line_chart(
            title=title, unit=unit,
            series=[Series(label, [(at, value / divisor) for at, value in points])
                    for label, points in sorted(lines.get(measurand, {}).items())],
        )
        for title, unit, measurand, divisor in CHARTS
    ]
