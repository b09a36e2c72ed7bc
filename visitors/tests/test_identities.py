"""What a daphne process remembers of tokens (visitors/identities.py): per site, and bounded."""

from visitors.identities import KnownVisitors


def test_a_token_is_known_only_on_the_site_it_was_identified_on():
    known = KnownVisitors()
    known.remember(1, "lindas-token", 42)

    assert known.get(1, "lindas-token") == 42
    assert known.get(2, "lindas-token") is None  # another site's hello: identified there anew
    assert known.get(1, "") is None

    known.forget(1, "lindas-token")
    assert known.get(1, "lindas-token") is None


def test_past_its_bound_the_oldest_token_goes_first():
    known = KnownVisitors(kept_at_most=2)
    known.remember(1, "first", 1)
    known.remember(1, "second", 2)
    known.remember(1, "third", 3)

    assert (known.get(1, "first"), known.get(1, "second"), known.get(1, "third")) == (None, 2, 3)
