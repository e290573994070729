from django.urls import path

from evchong_api.views import VIEWS

urlpatterns = [path(view.method, view.as_view(), name=f"evchong-{view.method}") for view in VIEWS]
