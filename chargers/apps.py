from django.apps import AppConfig


class ChargersConfig(AppConfig):
    name = "chargers"

    def ready(self):
        from chargers.models import ChargeBox, IdTag
        from security.audit import audit_register

        # Approvals (registration_status) and password changes of boxes; every id tag change.
        audit_register(ChargeBox, fields=["serial", "registration_status", "station_id", "heartbeat_interval",
                                          "password_hash"], secret=("password_hash",))
        audit_register(IdTag, fields=["id_tag", "status", "expiry", "parent_id", "note"])
