from django.apps import AppConfig


class TariffsConfig(AppConfig):
    name = "tariffs"
    verbose_name = "tariffs"

    def ready(self):
        from security.audit import audit_register
        from tariffs.models import Tariff, TariffPeriod

        audit_register(Tariff, fields=["code", "name", "currency", "valid_from", "is_default", "idle_fee_per_hour",
                                       "idle_grace_minutes"])
        audit_register(TariffPeriod, fields=["tariff_id", "start", "end", "energy_price", "service_price"])
