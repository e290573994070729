from django.apps import AppConfig


class EvchongApiConfig(AppConfig):
    name = "evchong_api"
