from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand

from security.tokens import command_token


class Command(BaseCommand):
    help = ("Create the user if needed, allow it the reverse and operations APIs, print its token only "
            "(the same token on every run: security.tokens.command_token).")

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.user_permissions.add(Permission.objects.get(codename="use_command_api", content_type__app_label="chargers"))
        self.stdout.write(command_token(user))
