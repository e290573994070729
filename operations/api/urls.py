from django.urls import path

from operations.api.alarms import AlarmsView, AlarmView
from operations.api.boxes import BoxApproveView, BoxesView, BoxPasswordView
from operations.api.idtags import IdTagBlockView, IdTagImportView, IdTagsView, IdTagView
from operations.api.reservations import ReservationCancelView, ReservationsView, ReservationView
from operations.api.stations import StationsView, StationView
from operations.api.transactions import MeterValuesCsvView, TransactionsCsvView, TransactionsView

urlpatterns = [
    path("transactions", TransactionsView.as_view(), name="api-transactions"),
    path("transactions.csv", TransactionsCsvView.as_view(), name="api-transactions-csv"),
    path("transactions/<int:pk>/metervalues.csv", MeterValuesCsvView.as_view(), name="api-metervalues-csv"),
    path("idtags", IdTagsView.as_view(), name="api-idtags"),
    # Not under idtags/: a tag may be called "import".
    path("idtag-imports", IdTagImportView.as_view(), name="api-idtag-imports"),
    path("idtags/<str:tag>", IdTagView.as_view(), name="api-idtag"),
    path("idtags/<str:tag>/block", IdTagBlockView.as_view(), name="api-idtag-block"),
    path("stations", StationsView.as_view(), name="api-stations"),
    path("stations/<str:code>", StationView.as_view(), name="api-station"),
    path("reservations", ReservationsView.as_view(), name="api-reservations"),
    path("reservations/<int:pk>", ReservationView.as_view(), name="api-reservation"),
    path("reservations/<int:pk>/cancel", ReservationCancelView.as_view(), name="api-reservation-cancel"),
    path("alarms", AlarmsView.as_view(), name="api-alarms"),
    path("alarms/<int:pk>", AlarmView.as_view(), name="api-alarm"),
    path("boxes", BoxesView.as_view(), name="api-boxes"),
    path("boxes/<str:serial>/approve", BoxApproveView.as_view(), name="api-box-approve"),
    path("boxes/<str:serial>/password", BoxPasswordView.as_view(), name="api-box-password"),
]
