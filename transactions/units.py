"""Measurands and units as boxes send them, turned into the domain's canonical form.

Canonical units: Wh, varh, W, var, VA, A, V, Celsius, Percent, Hz (values scaled accordingly).
"""

from __future__ import annotations

MEASURANDS = [
    "Current.Export", "Current.Import", "Current.Offered",
    "Energy.Active.Export.Register", "Energy.Active.Import.Register",
    "Energy.Reactive.Export.Register", "Energy.Reactive.Import.Register",
    "Energy.Active.Export.Interval", "Energy.Active.Import.Interval",
    "Energy.Reactive.Export.Interval", "Energy.Reactive.Import.Interval",
    "Frequency",
    "Power.Active.Export", "Power.Active.Import", "Power.Factor", "Power.Offered",
    "Power.Reactive.Export", "Power.Reactive.Import",
    "RPM", "SoC", "Temperature", "Voltage",
]  # OCPP 1.6 §7.31; EVCHONG 4.5 is a subset
DEFAULT_MEASURAND = "Energy.Active.Import.Register"

# EVCHONG writes measurands with "_" (Energy_Active_Import_Register); match on a folded key.
_MEASURAND_BY_KEY = {m.replace(".", "").lower(): m for m in MEASURANDS}

# unit as sent (lower-cased) -> (canonical unit, multiplier, offset)
_UNITS = {
    "wh": ("Wh", 1, 0), "kwh": ("Wh", 1000, 0),
    "varh": ("varh", 1, 0), "kvarh": ("varh", 1000, 0),
    "w": ("W", 1, 0), "kw": ("W", 1000, 0),
    "var": ("var", 1, 0), "kvar": ("var", 1000, 0),
    "va": ("VA", 1, 0), "kva": ("VA", 1000, 0),
    "a": ("A", 1, 0), "amp": ("A", 1, 0),  # EVCHONG 4.6 "Amp"
    "v": ("V", 1, 0), "volt": ("V", 1, 0),  # EVCHONG 4.6 "Volt"
    "celsius": ("Celsius", 1, 0), "k": ("Celsius", 1, -273.15), "fahrenheit": ("Celsius", 5 / 9, -32 * 5 / 9),
    "celcius": ("Celsius", 1, 0),  # sic: the OCPP 1.6 JSON schema's spelling
    "percent": ("Percent", 1, 0),
    "hertz": ("Hz", 1, 0), "hz": ("Hz", 1, 0),
}
UNITS_ACCEPTED = ["Wh", "kWh", "varh", "kvarh", "W", "kW", "VA", "kVA", "var", "kvar", "A", "Amp", "V", "Volt",
                  "Celsius", "K", "Fahrenheit", "Percent"]


def measurand_canonical(raw: str | None) -> str | None:
    """The OCPP spelling of a measurand, or None when it is not one."""
    if not raw:
        return DEFAULT_MEASURAND
    return _MEASURAND_BY_KEY.get(raw.replace(".", "").replace("_", "").lower())


def unit_known(raw: str) -> bool:
    return raw.lower() in _UNITS


def default_unit(measurand: str) -> str:
    # OCPP 1.6 says the default unit is Wh, which is right only for energy; a Voltage sample with no
    # unit is in volts on every box we have seen, so the default follows the measurand.
    if measurand.startswith("Energy.Reactive"):
        return "varh"
    if measurand.startswith("Energy"):
        return "Wh"
    if measurand.startswith("Power.Reactive"):
        return "var"
    if measurand in ("Power.Active.Export", "Power.Active.Import", "Power.Offered"):
        return "W"
    if measurand.startswith("Current"):
        return "A"
    return {"Voltage": "V", "Temperature": "Celsius", "SoC": "Percent", "Frequency": "Hz"}.get(measurand, "")


def normalise(raw_value: str, raw_unit: str | None, measurand: str) -> tuple[float | None, str]:
    """(value in the canonical unit, canonical unit). A value that is no number stays raw only."""
    unit = raw_unit or default_unit(measurand)
    canonical, factor, offset = _UNITS.get(unit.lower(), (unit, 1, 0))
    try:
        number = float(raw_value)
    except (TypeError, ValueError):
        return None, canonical
    if number != number or number in (float("inf"), float("-inf")):
        return None, canonical
    return number * factor + offset, canonical
