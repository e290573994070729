from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create the user if needed, allow it the reverse and operations APIs, print its token only."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.user_permissions.add(Permission.objects.get(codename="use_command_api", content_type__app_label="chargers"))
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
