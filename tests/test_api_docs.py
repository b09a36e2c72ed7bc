"""docs/api.md tells the truth: its curl commands, run in order against a live daphne server,
answer with the shapes the page shows, and every endpoint of the schema has an example."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone

from chat.models import Ban
from conftest import PASSWORD
from tests.api import ENDPOINTS, make_message, make_room, make_system_line, make_user, make_visitor, token_of

pytestmark = pytest.mark.django_db(transaction=True)

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
DOC_SERVER = "http://127.0.0.1:8000"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def fenced_blocks() -> list[tuple[str, str]]:
    return [(lang, text) for lang, text in FENCE.findall(DOC.read_text())]


def examples() -> list[tuple[str, str | None]]:
    """Each shell block, with the JSON block right after it (its answer) if there is one; or a
    CSV block (a download): its answer is `TEXT` and its first line."""
    blocks = fenced_blocks()
    pairs = []
    for index, (lang, text) in enumerate(blocks):
        if lang == "sh":
            following = blocks[index + 1] if index + 1 < len(blocks) else ("", "")
            answer = {"json": following[1], "csv": TEXT + following[1].split("\n")[0]}.get(following[0])
            pairs.append((text, answer))
    return pairs


# Marks a documented answer that is text (its first line: a CSV's header row), not JSON.
TEXT = "text:"


def shape(value):
    """What an example promises: the same keys at every level and the same kinds of values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def same_shape(documented, actual) -> bool:
    if documented == "NoneType" or actual == "NoneType":
        return True  # null in one, a value in the other: fine (a room may or may not be there)
    if isinstance(documented, dict) and isinstance(actual, dict):
        return documented.keys() == actual.keys() and all(same_shape(documented[k], actual[k]) for k in documented)
    if isinstance(documented, list) and isinstance(actual, list):
        return not documented or not actual or same_shape(documented[0], actual[0])
    return documented == actual


@pytest.fixture
def doc_world(site, peter, jane):
    """What the examples act on: peter's active room with a conversation, a site owner."""
    site.allowed_origins = "http://127.0.0.1:8000\nhttp://localhost:8000"
    site.save()
    make_visitor(site)
    visitor = make_visitor(site, url="http://127.0.0.1:8000/demo/shoes/")
    # What the site's page said of them (issue 25), as the side panel's example shows.
    visitor.external_id, visitor.attributes = "user-42", {"plan": "pro", "cart_total": 42.5}
    visitor.events = [{"name": "added_to_cart", "at": "2026-11-26T10:52:10.000000+00:00"}]
    visitor.save()
    room = make_room(visitor, operator=peter)
    make_system_line(room, "joined", "Peter joined the chat")
    make_message(room, "Do you have these in 42?")
    make_message(room, "We do, in blue too.", sender="operator")
    owner = make_user("owner", staff=True, owns=(site,))
    # A visitor Peter blocked, with their network (issue 25): the owner lists and lifts it.
    ban = Ban.objects.create(
        site=site,
        visitor=make_visitor(site, online=False),
        address="203.0.113.0/24",
        reason="Insults",
        created_by=peter,
        created_by_name=peter.name,
        created_at=timezone.now(),
    )
    return {
        "WP_DEMO_PASSWORD": PASSWORD,
        "OWNER_TOKEN": token_of(owner),
        "SITE": str(site.pk),
        "ROOM": str(room.pk),
        "OPERATOR": str(peter.pk),
        "VISITOR": str(room.visitor_id),
        "BAN": str(ban.pk),
        # A visitor Peter's token blocks in the bans example.
        "STRANGER": str(make_visitor(site).pk),
    }


def test_every_curl_example_answers_as_documented(daphne_pair, doc_world):
    base = f"http://{daphne_pair[0][1]}"
    pairs = examples()
    assert len(pairs) >= len(ENDPOINTS)
    # One shell runs them all in order, so TOKEN comes from the page's own command.
    script = ["set -eu"]
    for number, (command, _) in enumerate(pairs):
        script += [f"echo '@@example {number}@@'", command.replace(DOC_SERVER, base), "echo"]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        env={**os.environ, **doc_world},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    outputs = re.split(r"^@@example \d+@@\n", done.stdout, flags=re.M)[1:]
    assert len(outputs) == len(pairs)
    for (command, documented), output in zip(pairs, outputs, strict=True):
        if documented is None:
            assert output.strip() == "", f"{command}\nprinted {output!r} but the page shows no answer"
            continue
        if documented.startswith(TEXT):
            assert output.split("\n")[0] == documented.removeprefix(TEXT), f"{command}\nprinted {output!r}"
            continue
        try:
            answer = json.loads(output)
        except ValueError:
            raise AssertionError(f"{command}\nanswered {output!r}, not JSON") from None
        expected = json.loads(documented)
        assert same_shape(shape(expected), shape(answer)), f"{command}\nanswered {answer}\ndocumented {expected}"
        if "error" in expected:
            assert answer["error"]["code"] == expected["error"]["code"], command


def test_every_endpoint_has_an_example():
    commands = [command for command, _ in examples()]
    for path, methods in ENDPOINTS.items():
        pattern = re.escape(path.removeprefix("/api/")).replace(re.escape("{id}"), r"\$[A-Z]+")
        for method in methods:
            found = [
                c
                for c in commands
                if re.search(rf"/api/{pattern}(\?|\"|$)", c)
                and (f"-X {method.upper()}" in c if method != "get" else "-X " not in c)
            ]
            assert found, f"docs/api.md has no example of {method.upper()} {path}"
