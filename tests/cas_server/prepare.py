"""Create the test CAS server's database: tables, the kiosk's service pattern and the users.

Run with the CAS_TEST_DATABASE variable set and a JSON document on standard input:
{"service_pattern": regex, "released_attributes": [name, ...],
 "users": [{"username": ..., "password": ..., "attributes": {name: [value, ...]}}, ...]}
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cas_project.settings")

import django  # noqa: E402

django.setup()

from cas_server.models import ReplaceAttributName, ServicePattern  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from cas_project.models import DirectoryEntry  # noqa: E402


def create_service_pattern(pattern: str, released_attributes: list[str]) -> None:
    service = ServicePattern.objects.create(name="Kiosque IP", pattern=pattern)
    for name in released_attributes:
        ReplaceAttributName.objects.create(service_pattern=service, name=name)


def create_user(username: str, password: str, attributes: dict[str, list[str]]) -> None:
    user = get_user_model().objects.create_user(username=username, password=password)
    DirectoryEntry.objects.create(user=user, attributes=attributes)


def main() -> None:
    document = json.load(sys.stdin)
    # run_syncdb creates the table of cas_project, which has no migrations.
    call_command("migrate", run_syncdb=True, verbosity=0)
    create_service_pattern(document["service_pattern"], document["released_attributes"])
    for user in document["users"]:
        create_user(user["username"], user["password"], user["attributes"])


if __name__ == "__main__":
    main()
