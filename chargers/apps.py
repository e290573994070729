from django.apps import AppConfig


class ChargersConfig(AppConfig):
    name = "chargers"
