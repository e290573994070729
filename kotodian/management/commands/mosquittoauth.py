"""`python manage.py mosquittoauth --password-file PATH --acl-file PATH [--reload-pid PID | --reload-pidfile PATH]`:
Mosquitto's own password and ACL files for every box we know (kotodian.mosquittofiles), and a
SIGHUP to Mosquitto, which rereads both then, when either changed. Run it again whenever boxes are
added or removed (deploy/mosquitto/: a timer)."""

import os
import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chargers.models import ChargeBox
from kotodian import mosquittofiles


class Command(BaseCommand):
    help = "Write Mosquitto's password_file and acl_file for the Kotodian accounts; SIGHUP Mosquitto if they changed."

    def add_arguments(self, parser):
        parser.add_argument("--password-file", required=True, type=Path)
        parser.add_argument("--acl-file", required=True, type=Path)
        reload = parser.add_mutually_exclusive_group()
        reload.add_argument("--reload-pid", type=int, help="Mosquitto's process id")
        reload.add_argument("--reload-pidfile", type=Path, help="Mosquitto's pid_file")

    def handle(self, *args, password_file, acl_file, reload_pid, reload_pidfile, **options):
        codes = ChargeBox.objects.values_list("serial", flat=True).iterator(chunk_size=10_000)
        try:
            # One line per user: the password under the current secret (kotodian.mosquittofiles).
            written = mosquittofiles.write(password_file, acl_file, secret=settings.KOTODIAN_MQTT_SECRETS[0],
                                           box_codes=codes, prefix=settings.KOTODIAN_TOPIC_PREFIX)
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        for code in written.skipped:
            self.stderr.write(f"skipped box {code!r}: it cannot be a Mosquitto username")
        self.stdout.write(f"{written.accounts} accounts ({written.accounts - 2} boxes, the system, registration) "
                          f"in {written.password_file}; {'written' if written.changed else 'unchanged'}")
        if reload_pidfile is not None:
            try:
                reload_pid = int(reload_pidfile.read_text().strip())
            except (OSError, ValueError) as error:
                raise CommandError(f"no pid in {reload_pidfile}: {error}") from error
        if reload_pid is not None and written.changed:
            self._reload(reload_pid)

    def _reload(self, pid: int) -> None:
        # 0 and negative ids would signal whole process groups; a stale pid file may name another
        # program, which SIGHUP would end.
        if pid == 0:  # what systemd says of a stopped Mosquitto (deploy/mosquitto/)
            self.stdout.write("no Mosquitto running (pid 0): it reads them when it starts")
            return
        if pid < 0:
            raise CommandError(f"--reload-pid {pid} is not a process id")
        if Path("/proc/self/comm").exists():  # else no /proc here: trust the caller
            try:
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                raise CommandError(f"no process {pid} to reload") from None
            if name != "mosquitto":
                raise CommandError(f"process {pid} is {name!r}, not mosquitto: not reloaded")
        try:
            os.kill(pid, signal.SIGHUP)
        except OSError as error:
            raise CommandError(f"could not signal Mosquitto (pid {pid}): {error}") from error
        self.stdout.write(f"Mosquitto (pid {pid}) told to reread them")
