"""The bench site and its operators, logged in, in the database DATABASE_URL names (migrated first):

    python -m bench.seed N     # prints the N operators' session cookies as JSON

bench/run.py seeds its own database in process; scenario p's embedded leg (SQLite) through this.
"""

import json
import os
import sys

SITE = "bench"
ORIGIN = "http://bench.test"
PASSWORD = "bench-password-1"  # noqa: S105 - operators of a throwaway database


def seed_operators(n: int, prefix: str) -> list[str]:
    """Operators of the bench site, logged in: their session cookies."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from operators.models import Operator
    from visitors.models import Site

    site, _ = Site.objects.get_or_create(key=SITE, defaults={"name": "Bench", "allowed_origins": ORIGIN})
    cookies = []
    for i in range(n):
        user = get_user_model().objects.create_user(f"{prefix}-{i}", password=PASSWORD, first_name=f"Op{i}")
        Operator.objects.create(user=user).sites.set([site])
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return cookies


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whitepanel.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    print(json.dumps(seed_operators(int(sys.argv[1]), "op")))


if __name__ == "__main__":
    main()
