"""A charge box on the EVCHONG forward REST API (EVCHONG 2.1-2.8): every message is an HTTP POST
with the JSON in a form field ``data``, as the spec's examples show; times are epoch milliseconds.

The API has no channel from the central system to the box, so a REST box only ever asks.
"""

from __future__ import annotations

import asyncio
import random
import time

import aiohttp
import orjson

from simulator.stats import Stats

FORWARD_PATH = "/evchong-api/cperent/v1/"


def epoch_ms() -> int:
    return int(time.time() * 1000)


class RequestFailed(Exception):
    """No usable answer; already counted in the stats."""


class RestBox:
    def __init__(self, serial: str, id_tag: str, *, base_url: str, session: aiohttp.ClientSession, stats: Stats,
                 connectors: int = 2, station: str = "SIM-STATION", password: str | None = None,
                 timeout: float = 30.0, power_w: float = 11000.0):
        self.serial, self.id_tag, self.stats, self.session = serial, id_tag, stats, session
        self.url = base_url.rstrip("/") + FORWARD_PATH
        self.station = station
        self.connectors = connectors
        self.auth = aiohttp.BasicAuth(serial, password) if password is not None else None
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.power_w = power_w
        self.heartbeat_interval = 60.0
        self.meter_wh = float(random.randrange(0, 10**7))  # the register; whole Wh go on the wire
        self.transaction_id: int | None = None

    async def post(self, method: str, data: dict) -> dict:
        action = f"rest {method}"
        started, t = self.stats.now(), time.perf_counter()
        try:
            async with self.session.post(
                self.url + method, data={"data": orjson.dumps(data).decode()}, auth=self.auth, timeout=self.timeout,
            ) as response:
                body = await response.read()
                if response.status != 200:
                    self.stats.error(action, f"HTTP {response.status}: {body[:80].decode(errors='replace')}")
                    raise RequestFailed(method)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.stats.error(action, type(exc).__name__)
            raise RequestFailed(method) from None
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            self.stats.error(action, "answer is not JSON")
            raise RequestFailed(method) from None
        self.stats.record(action, started, time.perf_counter() - t)
        return answer

    async def boot(self) -> bool:
        answer = await self.post("deviceBoot", {
            "chargeBoxSerialNumber": self.serial, "chargePointSerialNumber": self.station,
            "chargePointVendor": "EVCHONG", "chargePointModel": "Simulator", "firmwareVersion": "sim-1.0",
        })
        self.heartbeat_interval = float(answer.get("heartbeatInterval") or 60)
        if answer.get("status") != "Accepted":
            self.stats.events[f"boot {answer.get('status')}"] += 1
            return False
        return True

    async def status(self, connector_id: int, status: str) -> None:
        await self.post("statusNotify", {
            "chargeBoxSerialNumber": self.serial, "connectorId": connector_id, "status": status,
            "errorCode": "NoError", "vendorId": "EVCHONG", "vendorErrorCode": "", "timestamp": epoch_ms(),
            "transactionId": self.transaction_id if self.transaction_id is not None else "",
        })

    async def report_status(self) -> None:
        for connector_id in range(1, self.connectors + 1):
            await self.status(connector_id, "Available")

    async def heartbeat(self) -> None:
        await self.post("heartbeat", {"chargeBoxSerialNumber": self.serial, "chargePointSerialNumber": self.station})

    async def start(self, connector_id: int = 1) -> bool:
        answer = await self.post("authorize", {"authReq": {"chargeBoxSerialNumber": self.serial, "idTag": self.id_tag}})
        if answer["authRes"]["idTagInfo"]["status"] != "Accepted":
            self.stats.events[f"authorize {answer['authRes']['idTagInfo']['status']}"] += 1
            return False
        answer = await self.post("startTrans", {
            "chargeBoxSerialNumber": self.serial, "connectorId": connector_id, "idTag": self.id_tag,
            "meterStart": int(self.meter_wh), "timestamp": epoch_ms(),
        })
        self.transaction_id = answer["transactionId"]
        self.stats.charging += 1
        # EVCHONG 4.9: "Occupied" is the word for a connector in a session.
        await self.status(connector_id, "Occupied")
        return True

    def samples(self, interval: float) -> list[dict]:
        power = self.power_w * random.uniform(0.95, 1.0)
        self.meter_wh += power * interval / 3600
        now = epoch_ms()
        common = {"location": "Outlet", "context": "Sample_Periodic", "format": "Raw", "timestamp": now}
        return [
            {"measurand": "Energy_Active_Import_Register", "unit": "Wh", "value": str(int(self.meter_wh)), **common},
            {"measurand": "Power.Active.Import", "unit": "W", "value": f"{power:.1f}", **common},
            {"measurand": "Current.Import", "unit": "Amp", "value": f"{power / 690:.2f}", **common},
            {"measurand": "Voltage", "unit": "Volt", "value": f"{random.uniform(228, 232):.1f}", **common},
        ]

    async def meter_values(self, interval: float, connector_id: int = 1) -> None:
        await self.post("meterValues", {
            "chargeBoxSerialNumber": self.serial, "connectorId": connector_id,
            "transactionId": self.transaction_id or -1, "values": self.samples(interval),
        })

    async def stop(self, connector_id: int = 1, reason: str = "Local") -> None:
        if self.transaction_id is None:
            return
        transaction_id, self.transaction_id = self.transaction_id, None
        self.stats.charging -= 1
        await self.post("stopTrans", {
            "chargeBoxSerialNumber": self.serial, "idTag": self.id_tag, "transactionId": transaction_id,
            "meterStop": int(self.meter_wh), "timestamp": epoch_ms(), "reason": reason,
            "transactionData": {"values": self.samples(0)[:1]},
        })
        await self.status(connector_id, "Available")

    async def firmware_status(self, status: str) -> None:
        await self.post("firmwareStatusNotify", {"chargeBoxSerialNumber": self.serial, "status": status})

    async def pace(self, seconds: float, stop: asyncio.Event) -> None:
        if seconds <= 0:
            return
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except TimeoutError:
            pass
