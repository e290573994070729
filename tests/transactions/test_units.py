import pytest

from transactions.units import measurand_canonical, normalise


@pytest.mark.parametrize("raw, canonical", [
    ("Energy_Active_Import_Register", "Energy.Active.Import.Register"),
    ("Energy.Active.Import.Register", "Energy.Active.Import.Register"),
    ("current.import", "Current.Import"),
    ("SoC", "SoC"),
    (None, "Energy.Active.Import.Register"),  # OCPP 1.6 default
    ("Flux.Capacitance", None),
])
def test_measurand_spellings(raw, canonical):
    assert measurand_canonical(raw) == canonical


@pytest.mark.parametrize("value, unit, measurand, expected", [
    ("2.5", "kWh", "Energy.Active.Import.Register", (2500.0, "Wh")),
    ("7", "kW", "Power.Active.Import", (7000.0, "W")),
    ("3", "kvar", "Power.Reactive.Import", (3000.0, "var")),
    ("16", "Amp", "Current.Import", (16.0, "A")),
    ("230", "Volt", "Voltage", (230.0, "V")),
    ("300.15", "K", "Temperature", (pytest.approx(27.0), "Celsius")),
    ("212", "Fahrenheit", "Temperature", (pytest.approx(100.0), "Celsius")),
    ("80", None, "SoC", (80.0, "Percent")),
    ("230", None, "Voltage", (230.0, "V")),
    ("12", None, "Energy.Active.Import.Register", (12.0, "Wh")),
    ("xxxxx", "kWh", "Energy.Active.Import.Register", (None, "Wh")),
    ("nan", "V", "Voltage", (None, "V")),
])
def test_normalise_to_canonical_units(value, unit, measurand, expected):
    assert normalise(value, unit, measurand) == expected
