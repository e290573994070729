from django.conf import settings
from django.db import models
from django.utils import timezone

from chargers import credentials
from chargers.choices import (
    AlarmLevel,
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    Direction,
    Protocol,
    RegistrationStatus,
    ReservationState,
)


class Station(models.Model):
    """A site. EVCHONG's chargePointSerialNumber is the station's code (EVCHONG 5)."""

    code = models.CharField(max_length=25, unique=True)
    name = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=300, blank=True)

    def __str__(self):
        return self.name or self.code


class ChargeBox(models.Model):
    serial = models.CharField(
        max_length=64, unique=True, help_text="chargeBoxSerialNumber / OCPP charge point identity"
    )
    station = models.ForeignKey(Station, null=True, blank=True, on_delete=models.SET_NULL, related_name="boxes")
    registration_status = models.CharField(
        max_length=10, choices=RegistrationStatus.choices, default=RegistrationStatus.ACCEPTED
    )
    password_hash = models.CharField(max_length=200, blank=True, help_text="empty: no authentication")
    # The password as last set or last found right, as an HMAC keyed with SECRET_KEY (chargers.credentials).
    # db_default: processes of the release before this column still insert boxes during an upgrade.
    credential_verifier = models.CharField(max_length=64, blank=True, default="", db_default="", editable=False)
    vendor = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=50, blank=True)
    charge_point_serial = models.CharField(max_length=25, blank=True)
    firmware_version = models.CharField(max_length=50, blank=True)
    iccid = models.CharField(max_length=20, blank=True)
    imsi = models.CharField(max_length=20, blank=True)
    meter_type = models.CharField(max_length=25, blank=True)
    meter_serial = models.CharField(max_length=25, blank=True)
    heartbeat_interval = models.PositiveIntegerField(
        null=True, blank=True, help_text="seconds; empty: the system default"
    )
    # As the box last reported or accepted it (GetConfiguration, ChangeConfiguration): the box's own
    # value, where heartbeat_interval is also what a boot is told.
    meter_value_sample_interval = models.PositiveIntegerField(
        null=True, blank=True, help_text="seconds, as the box reported or accepted it; empty: not known"
    )
    protocol = models.CharField(max_length=10, choices=Protocol.choices, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True, db_index=True)
    connected_node = models.CharField(
        max_length=200, blank=True, help_text="the server process and connection holding the box's socket; empty: none"
    )
    last_boot = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "charge boxes"
        ordering = ["serial"]
        permissions = [("use_command_api", "Can use the reverse and operations APIs")]

    def __str__(self):
        return self.serial

    def set_password(self, raw: str | None) -> None:
        self.password_hash = credentials.password_hash(raw)
        self.credential_verifier = credentials.verifier(self.password_hash, raw) if raw else ""

    def check_password(self, raw: str) -> bool:
        """Whether ``raw`` is the box's password: one HMAC for a password seen before, else the full
        check, whose success is then remembered on the row (chargers.credentials)."""
        if not self.password_hash:
            return False
        key = credentials.verifier_key(self.credential_verifier, self.password_hash, raw)
        if key == settings.SECRET_KEY:
            return True
        # Not remembered, or remembered under a key being rotated out: made again with today's key.
        if key is None and not credentials.password_matches(self.password_hash, raw):
            return False
        self.credential_verifier = credentials.verifier(self.password_hash, raw)
        # Only while the hash is still the one checked: a password set meanwhile stays in force.
        ChargeBox.objects.filter(pk=self.pk, password_hash=self.password_hash).update(
            credential_verifier=self.credential_verifier)
        return True

    @property
    def requires_auth(self) -> bool:
        return bool(self.password_hash)

    @property
    def effective_heartbeat_interval(self) -> int:
        return self.heartbeat_interval or settings.HEARTBEAT_INTERVAL

    @property
    def is_online(self) -> bool:
        """The one rule, chargers.presence.online_q; read with the box where the queryset was
        annotated by ``boxes_with_online``, else asked of the database."""
        from chargers.presence import box_online

        return box_online(self)


class ConfigurationKey(models.Model):
    """One configuration key of a box (OCPP 1.6 §9), as the box last reported it in a GetConfiguration
    answer or accepted it in a ChangeConfiguration."""

    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="configuration")
    key = models.CharField(max_length=50)  # CiString50Type
    value = models.CharField(max_length=500, blank=True)  # CiString500Type; empty: the box gave none
    readonly = models.BooleanField(default=False)
    reboot_required = models.BooleanField(default=False, help_text="accepted, in force after the box reboots")
    last_seen = models.DateTimeField(help_text="last reported or accepted by the box")

    class Meta:
        ordering = ["box", "key"]
        constraints = [models.UniqueConstraint(fields=["box", "key"], name="configuration_key_once")]

    def __str__(self):
        return f"{self.box_id} {self.key}={self.value}"


class Connector(models.Model):
    """connector_id 0 is the box itself (OCPP 1.6 §4.9)."""

    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.PositiveIntegerField()
    status = models.CharField(max_length=15, choices=ChargePointStatus.choices, blank=True)
    error_code = models.CharField(max_length=25, choices=ChargePointErrorCode.choices, blank=True)
    info = models.CharField(max_length=50, blank=True)
    vendor_id = models.CharField(max_length=255, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    # The words the box used, when its protocol is not OCPP 1.6 (EVCHONG "Occupied", "Mode3Error").
    raw_status = models.CharField(max_length=30, blank=True)
    raw_error_code = models.CharField(max_length=30, blank=True)
    status_time = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["box", "connector_id"]
        constraints = [
            models.UniqueConstraint(fields=["box", "connector_id"], name="connector_unique_per_box"),
        ]

    def __str__(self):
        return f"{self.box.serial}#{self.connector_id}"


class IdTag(models.Model):
    id_tag = models.CharField(max_length=20, unique=True)
    status = models.CharField(
        max_length=12, choices=AuthorizationStatus.choices, default=AuthorizationStatus.ACCEPTED
    )
    expiry = models.DateTimeField(null=True, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    note = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id_tag"]
        constraints = [
            # ConcurrentTx is an answer, never a stored state.
            models.CheckConstraint(
                condition=~models.Q(status=AuthorizationStatus.CONCURRENT_TX), name="idtag_status_stored"
            ),
        ]

    def __str__(self):
        return self.id_tag


class JournalEntry(models.Model):
    """Every message in and out of a box, newest kept; trimmed by chargers.tasks.journal_trim."""

    # Indexed by journal_box_newest, which leads with box: no second index to write per frame.
    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="journal", db_index=False)
    at = models.DateTimeField(default=timezone.now)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    protocol = models.CharField(max_length=10, choices=Protocol.choices)
    action = models.CharField(max_length=50, blank=True)
    payload = models.TextField()

    class Meta:
        verbose_name_plural = "journal entries"
        ordering = ["-id"]
        indexes = [models.Index(fields=["box", "-id"], name="journal_box_newest")]

    def __str__(self):
        return f"{self.box_id} {self.direction} {self.action}"


class Alarm(models.Model):
    """A fault or exception a box reported that someone must hear of: from a status report (OCPP,
    EVCHONG 2.7: ``status`` and ``error_code``) or as an alarm of its own (Kotodian's WarningReq:
    ``level``, ``code``, ``component``, and maybe an ``expires`` after which it clears itself)."""

    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="alarms")
    connector_id = models.PositiveIntegerField()
    transaction_id = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=15, choices=ChargePointStatus.choices, blank=True,
                              help_text="the connector's status, for alarms raised by a status report")
    level = models.CharField(max_length=10, choices=AlarmLevel.choices, blank=True)
    code = models.CharField(max_length=60, blank=True, help_text="the alarm's name in the box's protocol")
    component = models.CharField(max_length=40, blank=True, help_text="the part of the box it concerns")
    expires = models.DateTimeField(null=True, blank=True, help_text="cleared by itself then, unless cleared before")
    error_code = models.CharField(max_length=25, blank=True)
    vendor_error_code = models.CharField(max_length=50, blank=True)
    info = models.CharField(max_length=50, blank=True)
    notify_user = models.BooleanField(default=False)
    notify_operations = models.BooleanField(default=False)
    emailed = models.DateTimeField(null=True, blank=True)
    raised = models.DateTimeField(default=timezone.now)
    cleared = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised"]
        indexes = [
            models.Index(fields=["box", "cleared"], name="alarm_box_open"),
            # The sweep of alarms past their expiry reads only open ones that have one.
            models.Index(fields=["expires"], name="alarm_expiring",
                         condition=models.Q(cleared__isnull=True, expires__isnull=False)),
        ]

    def __str__(self):
        return f"{self.box_id}#{self.connector_id} {self.status or self.level} {self.code or self.error_code}"


class Reservation(models.Model):
    """A ReserveNow sent through the command path (OCPP 1.6 §5.13). Its id is the reservationId the
    box was sent: ours, allocated here (docs/adr/0007)."""

    # OCPP reservationIds are 32-bit integers.
    id = models.AutoField(primary_key=True)
    box = models.ForeignKey(ChargeBox, on_delete=models.CASCADE, related_name="reservations")
    connector_id = models.PositiveIntegerField(help_text="0: any connector of the box")
    id_tag = models.CharField(max_length=20)
    parent_id_tag = models.CharField(max_length=20, blank=True)
    expiry_date = models.DateTimeField()
    state = models.CharField(max_length=10, choices=ReservationState.choices, default=ReservationState.REQUESTED)
    box_status = models.CharField(
        max_length=12, blank=True, help_text="the box's answer: Accepted, Faulted, Occupied, Rejected, Unavailable"
    )
    transaction_id = models.IntegerField(null=True, blank=True, help_text="the session that used it")
    created = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="cancelled, used or expired at")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["box", "-id"], name="reservation_box_recent"),
            # Every remote start asks for the box's accepted reservations.
            models.Index(fields=["box", "connector_id"], name="reservation_accepted",
                         condition=models.Q(state=ReservationState.ACCEPTED)),
            # The expiry sweep reads only the open ones.
            models.Index(fields=["expiry_date"], name="reservation_open",
                         condition=models.Q(state__in=[ReservationState.REQUESTED, ReservationState.ACCEPTED])),
        ]

    def __str__(self):
        return f"#{self.id} {self.box_id}#{self.connector_id} {self.id_tag} ({self.state})"


class LocalAuthList(models.Model):
    """The local authorization list a box holds (OCPP 1.6 §5.15), as of the last SendLocalList it
    accepted, and the version it last reported (GetLocalListVersion, §5.10)."""

    box = models.OneToOneField(ChargeBox, on_delete=models.CASCADE, primary_key=True, related_name="local_auth_list")
    version = models.IntegerField(null=True, blank=True, help_text="listVersion of the last update the box accepted")
    updated = models.DateTimeField(null=True, blank=True)
    reported_version = models.IntegerField(
        null=True, blank=True, help_text="the box's last GetLocalListVersion answer (0: empty, -1: not supported)"
    )
    reported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "local authorization list"

    def __str__(self):
        return f"{self.box_id} v{self.version}"


class LocalAuthListEntry(models.Model):
    """One idTag of a box's local list, with the idTagInfo the box was given for it."""

    auth_list = models.ForeignKey(LocalAuthList, on_delete=models.CASCADE, related_name="entries")
    id_tag = models.CharField(max_length=20)
    status = models.CharField(max_length=12, choices=AuthorizationStatus.choices)
    expiry = models.DateTimeField(null=True, blank=True)
    parent_id_tag = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name = "local authorization list entry"
        verbose_name_plural = "local authorization list entries"
        ordering = ["auth_list", "id_tag"]
        constraints = [
            models.UniqueConstraint(fields=["auth_list", "id_tag"], name="local_list_entry_once"),
        ]

    def __str__(self):
        return f"{self.auth_list_id} {self.id_tag} {self.status}"
