"""Ownership comes only from the key pattern, on the exact decoded key (design §3)."""

import duckdb
import pytest

from bucketlens.keys import KeyPattern, KeyPatternError

CASES = {
    "users/1001/photos/IMG_1.jpg": "1001",
    "users/1006/../1001/x": "1006",  # not normalised: 1006's object
    "users/../x": "_shared",  # '..' is no user id
    "users/1001%2F..%2F1002/x": "_shared",  # a literal %2F never becomes a slash
    "users/1001": "_shared",  # no trailing slash: not inside the prefix
    "xusers/1001/a": "_shared",  # anchored at the start
    "app/assets/logo.png": "_shared",
    "users/ab_C-9/a": "ab_C-9",
    "users//a": "_shared",
}


def test_sql_and_python_agree_on_every_case():
    pattern = KeyPattern()
    con = duckdb.connect()
    keys = list(CASES)
    rows = con.execute(f"SELECT k, {pattern.sql_expr('k')} FROM unnest(?) t(k)", [keys]).fetchall()
    assert dict(rows) == CASES
    assert {k: pattern.user_id_of(k) for k in keys} == CASES
    assert con.execute(f"SELECT {pattern.sql_expr('NULL::VARCHAR')}").fetchall() == [("_shared",)]


def test_custom_pattern_escapes_literal_parts():
    pattern = KeyPattern("tenants/{user_id}.v1/", "[0-9]+")
    assert pattern.user_id_of("tenants/42.v1/doc") == "42"
    assert pattern.user_id_of("tenants/42xv1/doc") == "_shared"  # '.' is literal, not any char


@pytest.mark.parametrize(
    ("pattern", "regex", "message"),
    [
        ("users/", "[0-9]+", "exactly once"),
        ("u/{user_id}/{user_id}/", "[0-9]+", "exactly once"),
        ("users/{user_id}/", "[^x]+", "must not match"),
        ("users/{user_id}/", "([0-9]+)", "capture groups"),
        ("users/{user_id}/", "[", "invalid"),
    ],
)
def test_unsafe_patterns_are_refused(pattern, regex, message):
    with pytest.raises(KeyPatternError, match=message):
        KeyPattern(pattern, regex)
