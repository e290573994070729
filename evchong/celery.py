import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")

app = Celery("evchong")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
