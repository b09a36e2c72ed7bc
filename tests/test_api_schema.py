"""The OpenAPI schema at /api/schema/ is valid, describes every endpoint, and tells the truth:
schemathesis sends a live daphne server whatever the schema allows and no answer is a 5xx."""

import re

import pytest
import schemathesis
from django.core.management import call_command
from django.utils import timezone
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chat.models import Ban, Room
from integrations.models import Webhook
from operators.models import CannedReply
from tests.api import ENDPOINTS, make_message, make_room, make_user, make_visitor, token_of

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings_and_validates(tmp_path):
    # What `manage.py spectacular --validate --fail-on-warn` checks, as a test.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "openapi: 3" in (tmp_path / "schema.yaml").read_text()


def test_served_schema_is_openapi_3_and_lists_every_endpoint_with_its_errors(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert {path: set(operations) for path, operations in schema["paths"].items()} == ENDPOINTS
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            errors = {status for status in responses if status >= "400"}
            assert errors, f"{method} {path} documents no error"
            if path != "/api/token/":
                assert "401" in errors, f"{method} {path} does not document 401"
            for status in errors:
                ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", f"{method} {path} {status}"


def test_docs_page_serves_swagger_ui_from_our_own_static_files(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    # Its script is a file of its own too (no inline script under the CSP), pointing at the schema.
    assert re.findall(r"<script[^>]*>\s*[^<\s]", html) == []
    assert "/api/schema/" in client.get("/api/docs/?script=").content.decode()
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle in html
    assert "cdn" not in html.lower()
    asset = client.get(bundle)
    assert asset.status_code == 200
    assert b"".join(asset.streaming_content if asset.streaming else [asset.content])


# Property-based: the live server against everything the schema allows -----------------------


@pytest.fixture
def api_world(site, other_site, peter, jane, olga):
    """An operator with some of everything: rooms in each state with messages, visitors online,
    colleagues; peter also owns the other site, so site updates and foreign rooms both occur."""
    peter.user.is_staff = True
    peter.user.save()
    other_site.owners.add(peter.user)
    rooms = [
        make_room(make_visitor(site), operator=peter),
        make_room(make_visitor(site), operator=peter, status=Room.Status.CLOSING),
        make_room(make_visitor(site)),
        make_room(make_visitor(site, online=False), operator=peter, status=Room.Status.EXPIRED),
        make_room(make_visitor(site), operator=jane),
        make_room(make_visitor(other_site), operator=olga),
    ]
    Room.objects.filter(status=Room.Status.CLOSING).update(expires_at=timezone.now())
    for room in rooms:
        for n in range(3):
            make_message(room, f"message {n}")
    make_user("root", superuser=True)
    replies = [
        CannedReply.objects.create(site=site, shortcut="shipping", body="We ship in two days."),
        CannedReply.objects.create(operator=peter, shortcut="hi", body="Hi {visitor.name}!"),
        CannedReply.objects.create(operator=jane, shortcut="jane", body="Jane's own"),
    ]
    # A webhook of the site peter owns (issue 25); the tests' settings allow its local address.
    webhook = Webhook.objects.create(site=other_site, url="http://127.0.0.1:9/hook", events=["room.created"])
    # A ban on that site too (issue 25): its owner lifts it.
    ban = Ban.objects.create(
        site=other_site, visitor=rooms[-1].visitor, address="203.0.113.0/24", created_by=olga, created_at=timezone.now()
    )
    return {
        "token": token_of(peter.user),
        "ids": {
            "/api/rooms/": [room.pk for room in rooms],
            "/api/sites/": [site.pk, other_site.pk],
            "/api/operators/": [peter.pk, jane.pk, olga.pk],
            "/api/replies/": [reply.pk for reply in replies],
            "/api/visitors/": [room.visitor_id for room in rooms],
            "/api/webhooks/": [webhook.pk],
            "/api/bans/": [ban.pk],
        },
    }


def _ids_for(path: str, world: dict) -> list[int]:
    return next(ids for prefix, ids in world["ids"].items() if path.startswith(prefix))


def _exercise(operation, world: dict, mode: GenerationMode, max_examples: int) -> None:
    """Send one operation up to max_examples generated requests; raise on the first bad answer."""
    auth = {"Authorization": f"Token {world['token']}"}
    # Checks: no 5xx ever; for inputs the schema allows, the answer is one the schema describes.
    checks = [not_a_server_error]
    if mode is GenerationMode.POSITIVE:
        checks += [status_code_conformance, content_type_conformance, response_schema_conformance]

    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    @hypothesis_settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case, data):
        # Random ids rarely name anything: half the time, aim at a real object of this kind.
        if "id" in (case.path_parameters or {}) and data.draw(st.booleans()):
            case.path_parameters["id"] = data.draw(st.sampled_from(_ids_for(operation.path, world)))
        case.call_and_validate(headers=auth, checks=checks, timeout=30)

    run()


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_no_endpoint_answers_5xx_to_anything_the_schema_allows(daphne_pair, api_world):
    base = daphne_pair[0][1]
    schema = schemathesis.openapi.from_url(f"http://{base}/api/schema/?format=json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(methods) for methods in ENDPOINTS.values())
    failures = []
    for operation in operations:
        for mode, examples in ((GenerationMode.POSITIVE, 25), (GenerationMode.NEGATIVE, 10)):
            try:
                _exercise(operation, api_world, mode, examples)
            # schemathesis reports a failure as an exception group: try every operation, then show all.
            except (Exception, BaseExceptionGroup) as error:
                failures.append(f"{operation.label} ({mode.value}): {error}")
    assert not failures, "\n\n".join(failures)
