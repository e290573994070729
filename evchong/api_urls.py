from django.urls import path

from chargers.api import BoxView
from commands.api import BoxCommandsView, CommandView
from evchong_api.reverse import REVERSE_VIEWS
from operations.api.urls import urlpatterns as operations_api
from tariffs.api import StationTariffView, TariffsView, TariffView
from transactions.api import BoxTransactionsView, TransactionView
from webhooks.api import DeliveriesView, EndpointsView, EndpointTestView, EndpointView

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
    path("webhooks", EndpointsView.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>", EndpointView.as_view(), name="api-webhook"),
    path("webhooks/<int:pk>/deliveries", DeliveriesView.as_view(), name="api-webhook-deliveries"),
    path("webhooks/<int:pk>/test", EndpointTestView.as_view(), name="api-webhook-test"),
]

reverse_v1 = [path(view.method, view.as_view(), name=f"reverse-{view.method}") for view in REVERSE_VIEWS]
