"""Which user owns an object key.

Keys are not paths. Ownership comes from one configured prefix pattern (default ``users/{user_id}/``)
matched against the exact, decoded key: nothing is normalised, so ``users/1006/../1001/x`` belongs to
user 1006 and ``users/../x`` (or ``users/1001%2F..%2F1002/x`` with a literal ``%2F``) to nobody, i.e.
``_shared``. The match runs in DuckDB so it applies to millions of rows without a Python loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SHARED_USER = "_shared"
DEFAULT_KEY_PATTERN = "users/{user_id}/"
DEFAULT_USER_ID_REGEX = "[A-Za-z0-9_-]+"


class KeyPatternError(ValueError):
    """The configured key pattern cannot identify users."""


@dataclass(frozen=True)
class KeyPattern:
    """A key prefix with exactly one ``{user_id}`` placeholder, anchored at the start of the key."""

    pattern: str = DEFAULT_KEY_PATTERN
    user_id_regex: str = DEFAULT_USER_ID_REGEX

    def __post_init__(self) -> None:
        if self.pattern.count("{user_id}") != 1:
            raise KeyPatternError(
                f"key pattern {self.pattern!r} must contain '{{user_id}}' exactly once, e.g. 'users/{{user_id}}/'"
            )
        try:
            compiled = re.compile(self.user_id_regex)
        except re.error as exc:
            raise KeyPatternError(f"user id regex {self.user_id_regex!r} is invalid: {exc}") from exc
        if compiled.groups:
            raise KeyPatternError(f"user id regex {self.user_id_regex!r} must not contain capture groups")
        for forbidden in ("/", "."):
            if compiled.fullmatch(forbidden) or compiled.fullmatch(".."):
                raise KeyPatternError(
                    f"user id regex {self.user_id_regex!r} must not match '/', '.' or '..': "
                    "a key could otherwise climb out of its user's prefix"
                )

    @property
    def regex(self) -> str:
        """Anchored regex whose group 1 is the user id (literal parts of the pattern escaped)."""
        head, tail = self.pattern.split("{user_id}")
        return "^" + re.escape(head) + "(" + self.user_id_regex + ")" + re.escape(tail)

    def user_id_of(self, key: str | None) -> str:
        """Python twin of :meth:`sql_expr`, for single keys (tests, CLI); never for bulk rows."""
        if key is None:
            return SHARED_USER
        match = re.match(self.regex, key)
        return match.group(1) if match else SHARED_USER

    def sql_expr(self, key_column: str) -> str:
        """DuckDB expression giving the user id of ``key_column``, or ``'_shared'``.

        The regex is a SQL string literal built from configuration (not from data), with quotes
        doubled; DuckDB's RE2 syntax accepts Python's ``re.escape`` output.
        """
        literal = self.regex.replace("'", "''")
        return f"coalesce(nullif(regexp_extract({key_column}, '{literal}', 1), ''), '{SHARED_USER}')"
