import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evchong.settings")

app = Celery("evchong")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Our tasks wait on PostgreSQL and Redis, they do not compute: threads in one process instead of
# prefork children. A command's delivery is a row claim and a group_send, and all threads share one
# event loop and its channel-layer connections (commands.eventloop), where every delivery used to
# build a loop and a Redis connection of its own. `--pool` on the command line still wins.
app.conf.worker_pool = "threads"
# Every task is short now (the sweeps and a delivery take milliseconds): each thread keeps a few
# messages at hand instead of going back to the broker after every ack, which in a burst of
# deliveries put a Redis round trip between any two. Late acks still redeliver what a dead
# worker held (CELERY_TASK_ACKS_LATE), so a larger prefetch loses nothing.
app.conf.worker_prefetch_multiplier = 4
app.autodiscover_tasks()
