"""The admin as operations and field engineers use it: big tables without COUNT(*), the box page,
the command forms and who may use them, session charts and CSV exports, id tag import."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chargers.choices import Protocol
from chargers.models import IdTag
from chargers.services import box_touch, connector_status_report
from operations import paginators
from commands.edges import command_actions
from operations.command_forms import FORMS
from ocpp16.schemas import CENTRAL_SYSTEM_ACTIONS
from staff import PASSWORD
from transactions.services import Sample, meter_values_store, transaction_start, transaction_stop

pytestmark = pytest.mark.django_db

BIG_TABLES = ["chargers_chargebox", "chargers_idtag", "chargers_journalentry", "chargers_alarm",
              "transactions_transaction", "transactions_metervalue"]


@pytest.fixture
def session(make_box, make_tag):
    box = make_box("CB-OPS", connectors=2, vendor="Keli", model="K7")
    box_touch(box=box, protocol=Protocol.EVCHONG)
    connector_status_report(box=box, connector_id=2, status="Faulted", error_code="GroundFailure",
                            timestamp=timezone.now())
    make_tag("CARD")
    start = timezone.now() - timedelta(hours=1)
    tx = transaction_start(box=box, connector_id=1, id_tag="CARD", meter_start_wh=10_000, timestamp=start).transaction
    samples = []
    for minute in range(0, 60, 5):
        at = start + timedelta(minutes=minute)
        samples += [Sample(timestamp=at, value=str(10_000 + minute * 100), measurand="Energy.Active.Import.Register"),
                    Sample(timestamp=at, value="7.2", measurand="Power.Active.Import", unit="kW"),
                    Sample(timestamp=at, value="230", measurand="Voltage", unit="V", phase="L1-N"),
                    Sample(timestamp=at, value=str(40 + minute // 2), measurand="SoC", unit="Percent")]
    meter_values_store(box=box, connector_id=1, transaction_id=tx.id, samples=samples)
    transaction_stop(box=box, transaction_id=tx.id, meter_stop_wh=16_000, timestamp=timezone.now(), reason="Local")
    return tx


def logged_in(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.mark.parametrize("page", BIG_TABLES)
def test_big_tables_are_listed_without_counting_them(client, operations_user, session, page):
    logged_in(client, operations_user)
    app, model = page.split("_", 1)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(f"admin:{app}_{model}_changelist")).status_code == 200
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper() and f'"{page}"' in q["sql"]]
    # The one count allowed is bounded: COUNT(*) over a LIMITed subquery.
    assert all("LIMIT" in sql for sql in counts), counts


def test_beyond_the_exact_limit_the_list_shows_an_estimate(client, operations_user, session, monkeypatch):
    monkeypatch.setattr(paginators, "EXACT_COUNT_LIMIT", 5)
    logged_in(client, operations_user)
    page = client.get(reverse("admin:transactions_metervalue_changelist")).content.decode()
    assert "about " in page


def test_box_list_filters_and_search(client, operations_user, session, make_box):
    make_box("CB-QUIET")
    logged_in(client, operations_user)
    url = reverse("admin:chargers_chargebox_changelist")
    assert [b.serial for b in client.get(url, {"online": "yes"}).context["cl"].result_list] == ["CB-OPS"]
    assert [b.serial for b in client.get(url, {"online": "no"}).context["cl"].result_list] == ["CB-QUIET"]
    assert [b.serial for b in client.get(url, {"state": "Faulted"}).context["cl"].result_list] == ["CB-OPS"]
    assert [b.serial for b in client.get(url, {"q": "quiet"}).context["cl"].result_list] == ["CB-QUIET"]
    page = client.get(url).content.decode()
    assert '<span class="st st-Faulted">2: Faulted</span>' in page


def test_box_page_shows_sessions_commands_alarms_journal_and_command_buttons(client, operations_user, session):
    logged_in(client, operations_user)
    page = client.get(reverse("admin:chargers_chargebox_change", args=[session.box_id])).content.decode()
    for section in ("box-sessions", "box-command-history", "box-alarms", "box-journal", "box-commands"):
        assert f'id="{section}"' in page
    assert "GroundFailure" in page and "16.00 kWh" not in page  # energy shown per session: 6.00 kWh
    assert "6.00 kWh" in page
    for action in CENTRAL_SYSTEM_ACTIONS:
        assert reverse("admin:chargers_chargebox_command", args=[session.box_id, action]) in page


def test_there_is_a_form_for_every_central_system_call(client, operations_user, session):
    # Forms for the Kotodian calls too; an OCPP box is offered OCPP's (tests/operations/test_kotodian_forms.py).
    assert set(FORMS) == set(command_actions())
    logged_in(client, operations_user)
    page = client.get(reverse("admin:chargers_chargebox_change", args=[session.box_id])).content.decode()
    offered = {a for a in FORMS if reverse("admin:chargers_chargebox_command", args=[session.box_id, a]) in page}
    assert offered == set(CENTRAL_SYSTEM_ACTIONS)
    for action in FORMS:
        response = client.get(reverse("admin:chargers_chargebox_command", args=[session.box_id, action]))
        assert response.status_code == (200 if action in CENTRAL_SYSTEM_ACTIONS else 403), action


def test_a_payload_the_schema_refuses_is_not_queued(client, operations_user, session):
    logged_in(client, operations_user)
    url = reverse("admin:chargers_chargebox_command_send", args=[session.box_id, "SetChargingProfile"])
    response = client.post(url, {"connectorId": "1", "csChargingProfiles": '{"chargingProfileId": 1}'})
    assert response.status_code == 200
    assert b"OccurenceConstraintViolation" in response.content
    from commands.models import Command

    assert not Command.objects.exists()


def test_field_engineer_sees_only_diagnostic_commands(client, field_engineer, session):
    logged_in(client, field_engineer)
    page = client.get(reverse("admin:chargers_chargebox_change", args=[session.box_id])).content.decode()
    offered = {a for a in CENTRAL_SYSTEM_ACTIONS
               if reverse("admin:chargers_chargebox_command", args=[session.box_id, a]) in page}
    assert offered == {"GetConfiguration", "TriggerMessage", "GetDiagnostics", "UnlockConnector", "Reset"}


def test_field_engineer_cannot_start_a_charge_or_hard_reset(client, field_engineer, session):
    logged_in(client, field_engineer)
    form = reverse("admin:chargers_chargebox_command", args=[session.box_id, "RemoteStartTransaction"])
    send = reverse("admin:chargers_chargebox_command_send", args=[session.box_id, "RemoteStartTransaction"])
    assert client.get(form).status_code == 403
    assert client.post(send, {"connectorId": "1", "idTag": "CARD"}).status_code == 403
    hard = reverse("admin:chargers_chargebox_command_send", args=[session.box_id, "Reset"])
    assert client.post(hard, {"type": "Hard"}).status_code == 403
    from commands.models import Command

    assert not Command.objects.exists()


def test_field_engineer_cannot_see_or_edit_id_tags(client, field_engineer, session):
    logged_in(client, field_engineer)
    tag = IdTag.objects.get(id_tag="CARD")
    assert client.get(reverse("admin:chargers_idtag_changelist")).status_code == 403
    assert client.get(reverse("admin:chargers_idtag_change", args=[tag.pk])).status_code == 403
    assert client.post(reverse("admin:chargers_idtag_change", args=[tag.pk]), {"id_tag": "CARD", "status": "Blocked"}
                       ).status_code == 403
    assert client.get(reverse("admin:chargers_idtag_import")).status_code == 403
    assert IdTag.objects.get(pk=tag.pk).status == "Accepted"


def test_field_engineer_cannot_change_boxes(client, field_engineer, session):
    logged_in(client, field_engineer)
    url = reverse("admin:chargers_chargebox_change", args=[session.box_id])
    assert client.get(url).status_code == 200  # view only
    assert client.post(url, {"serial": "HIJACKED"}).status_code == 403


def test_session_page_has_charts(client, operations_user, session):
    logged_in(client, operations_user)
    page = client.get(reverse("admin:transactions_transaction_change", args=[session.id])).content.decode()
    assert page.count('<figure class="chart">') == 5  # energy, power, current, voltage, SoC
    assert page.count('<svg viewBox="0 0 720 200"') == 4
    assert "no values" in page  # this box sent no current
    assert "1:00 h" in page or "0:59 h" in page
    assert reverse("admin:transactions_transaction_metervalues_csv", args=[session.id]) in page


def test_id_tags_import_from_csv_all_or_nothing(client, operations_user, make_tag):
    make_tag("OLD-1")
    logged_in(client, operations_user)
    url = reverse("admin:chargers_idtag_import")
    bad = "id_tag,status,expiry,parent\nNEW-1,Accepted,,\nNEW-2,Sometimes,,\nNEW-3,,yesterday,\nNEW-4,,,GHOST\n"
    response = client.post(url, {"file": SimpleUploadedFile("tags.csv", bad.encode())})
    assert response.context["errors"] == [
        "line 3: status 'Sometimes' is not one of Accepted, Blocked, Expired, Invalid",
        "line 4: expiry 'yesterday' is not an ISO 8601 date-time",
        "parent 'GHOST' is neither in the file nor a known id tag",
    ]
    assert not IdTag.objects.filter(id_tag__startswith="NEW").exists()

    good = ("id_tag,status,expiry,parent,note\nMEMBER-1,Accepted,2030-01-01T00:00:00Z,FLEET,driver 1\n"
            "FLEET,Blocked,,,\nOLD-1,Expired,,FLEET,\n")
    response = client.post(url, {"file": SimpleUploadedFile("tags.csv", good.encode("utf-8-sig"))})
    assert response.status_code == 302
    member = IdTag.objects.select_related("parent").get(id_tag="MEMBER-1")
    assert (member.parent.id_tag, member.expiry.year, member.note) == ("FLEET", 2030, "driver 1")
    assert IdTag.objects.get(id_tag="OLD-1").status == "Expired"
    assert IdTag.objects.get(id_tag="FLEET").status == "Blocked"
