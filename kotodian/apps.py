from django.apps import AppConfig


class KotodianConfig(AppConfig):
    name = "kotodian"
    verbose_name = "Kotodian MQTT"

    def ready(self):
        from commands.edges import command_edge_register
        from kotodian.delivery import EDGE

        command_edge_register(EDGE)
