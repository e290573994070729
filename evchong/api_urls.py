from django.urls import path

from chargers.api import BoxView
from commands.api import BoxCommandsView, CommandView
from evchong_api.reverse import REVERSE_VIEWS
from operations.api.urls import urlpatterns as operations_api
from tariffs.api import StationTariffView, TariffsView, TariffView
from transactions.api import BoxTransactionsView, TransactionView

api_v1 = [
    path("boxes/<str:serial>", BoxView.as_view(), name="api-box"),
    path("boxes/<str:serial>/commands", BoxCommandsView.as_view(), name="api-box-commands"),
    path("boxes/<str:serial>/transactions", BoxTransactionsView.as_view(), name="api-box-transactions"),
    path("commands/<int:pk>", CommandView.as_view(), name="api-command"),
    path("transactions/<int:pk>", TransactionView.as_view(), name="api-transaction"),
    path("tariffs", TariffsView.as_view(), name="api-tariffs"),
    path("tariffs/<str:code>", TariffView.as_view(), name="api-tariff"),
    path("stations/<str:code>/tariff", StationTariffView.as_view(), name="api-station-tariff"),
    *operations_api,
]

reverse_v1 = [path(view.method, view.as_view(), name=f"reverse-{view.method}") for view in REVERSE_VIEWS]
