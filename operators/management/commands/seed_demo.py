"""Creates (or refreshes) the demo: site `demo` and the operators peter and jane."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from operators.models import Operator
from visitors.models import Site

DEMO_OPERATORS = [("peter", "Peter"), ("jane", "Jane")]


class Command(BaseCommand):
    help = "Create the demo site and its operators peter and jane (password: WP_DEMO_PASSWORD, else random)."

    def handle(self, *args, **options):
        port = settings.PORT
        site, _ = Site.objects.update_or_create(
            key="demo",
            defaults={
                "name": "Demo shop",
                "allowed_origins": f"http://127.0.0.1:{port}\nhttp://localhost:{port}",
            },
        )
        password = settings.WP_DEMO_PASSWORD or secrets.token_urlsafe(9)
        User = get_user_model()
        for username, first_name in DEMO_OPERATORS:
            user, _ = User.objects.get_or_create(username=username, defaults={"first_name": first_name})
            user.first_name = first_name
            user.set_password(password)
            user.save()
            operator, _ = Operator.objects.get_or_create(user=user)
            operator.sites.add(site)
        self.stdout.write(f"Demo site '{site.key}' allows {', '.join(sorted(site.origins))}")
        for username, _ in DEMO_OPERATORS:
            self.stdout.write(f"{username} / {password}")
