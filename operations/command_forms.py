"""One form per call the central system makes to a box: OCPP 1.6's (§5), and the Kotodian calls
OCPP has no name for (kotodian.calls). A form's class name is the action; its field names are the
payload's keys, so ``payload()`` needs no per-action code. Made for a box, a form checks the payload
as that box's protocol sends it (commands.services.command_validate) before anything is queued;
only the forms of the calls that protocol has are offered (operations.command_views)."""

from __future__ import annotations

from datetime import timezone as dt_timezone

from django import forms

from django.conf import settings

from commands.edges import CommandEdge, CommandInvalid, command_edge
from ocpp16.delivery import command_check

MESSAGE_TRIGGERS = ["BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
                    "Heartbeat", "MeterValues", "StatusNotification"]
PROFILE_PURPOSES = ["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]


def forms_edge(box) -> CommandEdge:
    """Whose calls a box is offered: its protocol's; a box whose protocol has no channel for
    commands (EVCHONG REST) or none yet, the default protocol's (issuing then says why it cannot)."""
    return command_edge(box.protocol) or command_edge(settings.COMMAND_DEFAULT_PROTOCOL)


def _choices(values, blank=False):
    return ([("", "---")] if blank else []) + [(v, v) for v in values]


def _when(**kwargs):
    return forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), **kwargs)


def _connector(minimum=0, **kwargs):
    return forms.IntegerField(min_value=minimum, **kwargs)


class CommandForm(forms.Form):
    def __init__(self, *args, box=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.box = box

    def payload(self) -> dict:
        out = {}
        for name, value in self.cleaned_data.items():
            if value in (None, "", []):
                continue
            if hasattr(value, "astimezone"):
                value = value.astimezone(dt_timezone.utc).isoformat().replace("+00:00", "Z")
            out[name] = value
        return out

    def checked_payload(self) -> dict:
        return self.payload()

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                action = type(self).__name__
                if self.box is None:  # no box to ask: OCPP 1.6's schema
                    command_check(action, self.checked_payload())
                else:
                    forms_edge(self.box).validate(action, self.checked_payload())
            except CommandInvalid as problem:
                raise forms.ValidationError(problem.message) from None
        return cleaned


class CancelReservation(CommandForm):
    """Cancel a reservation."""

    reservationId = forms.IntegerField()


class ChangeAvailability(CommandForm):
    """Make a connector (0: the whole box) operative or inoperative."""

    connectorId = _connector(initial=0)
    type = forms.ChoiceField(choices=_choices(["Inoperative", "Operative"]))


class ChangeConfiguration(CommandForm):
    """Set one configuration key."""

    key = forms.CharField(max_length=50)
    value = forms.CharField(max_length=500)


class ClearCache(CommandForm):
    """Clear the box's authorization cache."""


class ClearChargingProfile(CommandForm):
    """Clear charging profiles; empty fields match every profile."""

    id = forms.IntegerField(required=False)
    connectorId = _connector(required=False)
    chargingProfilePurpose = forms.ChoiceField(choices=_choices(PROFILE_PURPOSES, blank=True), required=False)
    stackLevel = forms.IntegerField(min_value=0, required=False)


class DataTransfer(CommandForm):
    """A vendor-specific message."""

    vendorId = forms.CharField(max_length=255)
    messageId = forms.CharField(max_length=50, required=False)
    data = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class GetCompositeSchedule(CommandForm):
    """The schedule a connector will follow for the next ``duration`` seconds."""

    connectorId = _connector(initial=1)
    duration = forms.IntegerField(min_value=0, initial=3600)
    chargingRateUnit = forms.ChoiceField(choices=_choices(["A", "W"], blank=True), required=False)


class GetConfiguration(CommandForm):
    """Read configuration keys (all of them when none is given)."""

    key = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="one key a line")

    def clean_key(self):
        return [line.strip() for line in self.cleaned_data["key"].splitlines() if line.strip()]


class GetDiagnostics(CommandForm):
    """Have the box upload a diagnostics file to ``location``."""

    location = forms.CharField(required=False, help_text="empty: a place of the box's own on our FTP server (the "
                                                        "file is attached to the box); or e.g. ftp://user:password@host/path/")
    retries = forms.IntegerField(min_value=0, required=False)
    retryInterval = forms.IntegerField(min_value=0, required=False, help_text="seconds")
    startTime = _when(required=False)
    stopTime = _when(required=False)

    def checked_payload(self) -> dict:
        # No location: the system fills in its own when it issues the command (commands.services).
        return {"location": "ftp://diagnostics.invalid/", **self.payload()}


class GetLocalListVersion(CommandForm):
    """The version of the box's local authorization list."""


class RemoteStartTransaction(CommandForm):
    """Start a charging session for an id tag."""

    connectorId = _connector(minimum=1, required=False)
    idTag = forms.CharField(max_length=20)
    chargingProfile = forms.JSONField(required=False, help_text="a ChargingProfile object (optional)")


class RemoteStopTransaction(CommandForm):
    """Stop a running charging session."""

    transactionId = forms.IntegerField()


class ReserveNow(CommandForm):
    """Reserve a connector for an id tag until ``expiryDate``."""

    connectorId = _connector()
    expiryDate = _when()
    idTag = forms.CharField(max_length=20)
    parentIdTag = forms.CharField(max_length=20, required=False)
    reservationId = forms.IntegerField(required=False, help_text="empty or already used: a new one is given")


class Reset(CommandForm):
    """Restart the box: Soft ends sessions first, Hard restarts at once."""

    type = forms.ChoiceField(choices=_choices(["Soft", "Hard"]))


class SendLocalList(CommandForm):
    """Replace or update the box's local authorization list."""

    listVersion = forms.IntegerField()
    updateType = forms.ChoiceField(choices=_choices(["Differential", "Full"]))
    localAuthorizationList = forms.JSONField(
        required=False, help_text='e.g. [{"idTag": "04A2B3C4", "idTagInfo": {"status": "Accepted"}}]'
    )


class SetChargingProfile(CommandForm):
    """Install a charging profile on a connector."""

    connectorId = _connector()
    csChargingProfiles = forms.JSONField(help_text="a ChargingProfile object")


class TriggerMessage(CommandForm):
    """Ask the box to send a message now."""

    requestedMessage = forms.ChoiceField(choices=_choices(MESSAGE_TRIGGERS))
    connectorId = _connector(required=False)


class UnlockConnector(CommandForm):
    """Release the cable lock of a connector."""

    connectorId = _connector(minimum=1, initial=1)


class UpdateFirmware(CommandForm):
    """Have the box download firmware from ``location`` and install it after ``retrieveDate``."""

    location = forms.CharField()
    retrieveDate = _when()
    retries = forms.IntegerField(min_value=0, required=False)
    retryInterval = forms.IntegerField(min_value=0, required=False, help_text="seconds")


# The Kotodian calls that OCPP 1.6 has no name for (kotodian.calls).


class UpdateIdCardCache(CommandForm):
    """Update cards in the box's card cache (Kotodian)."""

    idTags = forms.JSONField(help_text='e.g. [{"idTag": "04A2B3C4", "idTagInfo": {"status": "Accepted"}}]')


class SetTariff(CommandForm):
    """Send the box a tariff (Kotodian): the one named, else the one that applies to it."""

    tariff = forms.CharField(max_length=40, required=False, help_text="a tariff's code; empty: the box's own")
    test = forms.BooleanField(required=False, help_text="the box only checks it")


class GetTransactions(CommandForm):
    """Have the box upload its records of sessions (Kotodian), as offline orders."""

    connectorId = _connector(required=False, help_text="empty: every connector")
    level = forms.ChoiceField(choices=_choices(["Current", "Offline", "All"], blank=True), required=False)
    startTime = _when(required=False)
    endTime = _when(required=False)


class GetWarning(CommandForm):
    """Have the box send its alarms again (Kotodian)."""

    level = forms.ChoiceField(choices=_choices(["Critical", "Alert", "Warning", "Notice", "Info", "Hardware",
                                                "System"], blank=True), required=False)
    startTime = _when(required=False)
    endTime = _when(required=False)


class GetLog(CommandForm):
    """Have the box upload a log (Kotodian) to a place of its own on our FTP server, or to ``remoteLocation``."""

    logType = forms.ChoiceField(choices=_choices(["DiagnosticsLog", "SecurityLog"]))
    requestId = forms.IntegerField(min_value=0, required=False)
    retries = forms.IntegerField(min_value=0, required=False)
    retryInterval = forms.IntegerField(min_value=0, required=False, help_text="seconds")
    remoteLocation = forms.CharField(required=False, help_text="empty: a place of its own on our FTP server")
    oldestTimestamp = _when(required=False)
    latestTimestamp = _when(required=False)

    LOG_FIELDS = ("remoteLocation", "oldestTimestamp", "latestTimestamp")

    def payload(self) -> dict:
        flat = super().payload()
        log = {name: flat.pop(name) for name in self.LOG_FIELDS if name in flat}
        return {**flat, **({"log": log} if log else {})}


FORMS: dict[str, type[CommandForm]] = {
    form.__name__: form
    for form in [
        CancelReservation, ChangeAvailability, ChangeConfiguration, ClearCache, ClearChargingProfile, DataTransfer,
        GetCompositeSchedule, GetConfiguration, GetDiagnostics, GetLocalListVersion, RemoteStartTransaction,
        RemoteStopTransaction, ReserveNow, Reset, SendLocalList, SetChargingProfile, TriggerMessage,
        UnlockConnector, UpdateFirmware, UpdateIdCardCache, SetTariff, GetTransactions, GetWarning, GetLog,
    ]
}
