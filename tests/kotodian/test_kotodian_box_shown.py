"""A Kotodian box shows as one wherever a box shows: the admin's protocol filter, the read API, the
status page (with ChargingInfo's live power and SoC, and its frames decoded as readable JSON)."""

from __future__ import annotations

import time

from django.test import Client

from kotodian.proto import charger_pb2 as pb
from transactions.models import MeterValue


def test_the_read_api_names_the_box_s_protocol(booted, backend_token):
    row, _ = booted
    body = Client(HTTP_AUTHORIZATION=f"Token {backend_token}").get(f"/api/v1/boxes/{row.serial}").json()
    assert body["protocol"] == "kotodian"
    assert {"serial", "online", "lastSeen", "firmwareVersion", "connectors"} < set(body)


def test_the_admin_lists_boxes_by_protocol(booted, make_box, admin_client):
    row, _ = booted
    make_box(f"OCPP-{row.serial}")
    page = admin_client.get("/admin/chargers/chargebox/", {"protocol__exact": "kotodian"}).content.decode()
    assert row.serial in page and f"OCPP-{row.serial}" not in page
    assert "Kotodian MQTT" in admin_client.get("/admin/chargers/chargebox/").content.decode()  # the filter's choice


def test_the_status_page_shows_charging_info_live_and_the_frames_as_json(booted, make_tag, admin_client, wait_for):
    row, box = booted
    make_tag("CARD-LIVE")
    now = int(time.time())
    started = box.call("C", pb.ID_StartTransactionReq, pb.StartTransactionReq(
        connectorId="1", IdData=pb.IdToken(id="CARD-LIVE"), meterStart=100, timestamp=now - 60))
    assert started.message.idInfo.status == pb.AS_Accepted
    # ChargingInfo names the box's record, not our session: its values are the connector's.
    box.send("M", pb.ID_ChargingInfoReq, pb.ChargingInfoReq(
        recordId="R-LIVE", connectorId="1", power=7.4, soc=63, timestamp=now))
    wait_for(lambda: MeterValue.objects.filter(box=row, measurand="SoC").exists())
    page = admin_client.get(f"/boxes/{row.serial}/live").content.decode()
    assert "Kotodian MQTT" in page
    assert '<dd data-role="power">7.4 kW</dd>' in page
    assert "<dt>SoC</dt><dd>63 %</dd>" in page
    # The journal's frames, one field a line.
    assert '<pre class="frame">{\n  &quot;message&quot;: &quot;ID_StartTransactionReq&quot;,' in page
    assert "&quot;recordId&quot;: &quot;R-LIVE&quot;" in page


def test_the_status_search_shows_and_filters_by_protocol(booted, make_box, admin_client):
    row, _ = booted
    make_box(f"OCPP-{row.serial}")
    everything = admin_client.get("/boxes/", {"q": row.serial}).content.decode()
    assert "<th>Protocol</th>" in everything and "<td>Kotodian MQTT</td>" in everything
    assert f"OCPP-{row.serial}" in everything
    kotodian_only = admin_client.get("/boxes/", {"q": row.serial, "protocol": "kotodian"}).content.decode()
    assert f">{row.serial}</a>" in kotodian_only and f"OCPP-{row.serial}" not in kotodian_only
