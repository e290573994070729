"""The display tables name every code the document defines, spelled as the protocol spells it, and
show a code outside them as unknown rather than hiding it."""

from __future__ import annotations

from kotodian.names import CONNECTOR_STATES, MEASURANDS, STOP_REASONS, WARNINGS, name_of


def test_stop_reasons_are_0_to_81_without_14_and_15_then_101_to_108_and_999():
    expected = (set(range(0, 82)) - {14, 15}) | set(range(101, 109)) | {999}
    assert set(STOP_REASONS) == expected


def test_stop_reasons_keep_the_protocol_spelling():
    assert STOP_REASONS[0] == "SR_Normal"
    assert STOP_REASONS[6] == "SR_EVDisconnected"
    assert STOP_REASONS[13] == "SR_MeterCommunicationFault"  # SR_MeterFault before v1.10.41
    assert STOP_REASONS[80] == "SR_BMSOhterFault"
    assert STOP_REASONS[81] == "SR_PriceSchemeException"
    assert STOP_REASONS[108] == "SR_EVConnectTimeout"
    assert STOP_REASONS[999] == "SR_Server_Error"


def test_warnings_name_the_210_codes_by_unit_prefix():
    assert len(WARNINGS) == 210
    assert WARNINGS[0] == "Other"
    assert WARNINGS[106] == "SYS_PowerFailure"
    assert WARNINGS[352] == "CCM_RCDSelfTest"
    assert WARNINGS[1281] == "PSM_RCD_DC_LEAK"
    prefixes = {range(100, 200): "SYS_", range(300, 400): "CCM_", range(400, 500): "BMS_", range(1200, 1300): "PSM_"}
    for code, name in WARNINGS.items():
        if code:
            assert any(code in codes and name.startswith(prefix) for codes, prefix in prefixes.items()), code


def test_measurands_name_the_68_codes():
    assert len(MEASURANDS) == 68
    assert (MEASURANDS[0], MEASURANDS[101], MEASURANDS[144], MEASURANDS[164]) == (
        "MUnknown", "Voltage", "ConnectorStatus", "DemandVoltage")


def test_connector_states_are_the_platform_table_of_design_section_3():
    assert list(CONNECTOR_STATES.items()) == [
        (0, "Unavailable"), (1, "Available"), (2, "Occupied"), (3, "Reserved"), (4, "Faulted"),
        (5, "Preparing"), (6, "Charging"), (7, "SuspendedEV"), (8, "SuspendedEVSE"), (9, "Finishing"),
    ]


def test_a_code_outside_a_table_is_shown_as_unknown_with_its_number():
    assert name_of(STOP_REASONS, 14) == "unknown (14)"
    assert name_of(WARNINGS, 0xFF0601) == "unknown (16713217)"
    assert name_of(CONNECTOR_STATES, 6) == "Charging"
