from django.apps import AppConfig


class Ocpp16Config(AppConfig):
    name = "ocpp16"
    verbose_name = "OCPP 1.6J"

    def ready(self):
        from commands.edges import command_edge_register
        from ocpp16.delivery import EDGE

        command_edge_register(EDGE)
