from django.urls import path

from evchong_api.views import VIEWS

urlpatterns = [path(name, view, name=f"evchong-{name}") for name, view in VIEWS.items()]
