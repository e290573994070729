from django.apps import AppConfig


class Ocpp16Config(AppConfig):
    name = "ocpp16"
    verbose_name = "OCPP 1.6J"
