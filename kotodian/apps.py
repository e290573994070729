from django.apps import AppConfig


class KotodianConfig(AppConfig):
    name = "kotodian"
    verbose_name = "Kotodian MQTT"

    def ready(self):
        from commands.edges import command_edge_register
        from kotodian.delivery import EDGE
        from kotodian.tariffs import tariff_changed_push
        from tariffs.signals import tariff_changed

        command_edge_register(EDGE)
        tariff_changed.connect(tariff_changed_push, dispatch_uid="kotodian-tariff-push")
