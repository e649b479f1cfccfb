"""The building blocks of the rules file's pydantic models: the value types and the error lines.

Each value type is a plain Python type with one check in front of it (``Annotated[int,
BeforeValidator(...)]``), so a model declares *what* a field holds and pydantic reports *where* a value
is wrong. The checks are strict on purpose: YAML turns ``yes`` into true and ``.inf`` into a float, and
a threshold silently read as 1 or infinity is a detector switched off. ``RulesError`` turns pydantic's
errors into lines an operator can act on: ``alerts.rules[3] (rapid_upload).severity: must be one of
info, warning, critical, from_source, got "urgent"`` — the path as written in the file, list items
named by their ``name``, the offending value as YAML writes it.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

SEVERITIES = ("info", "warning", "critical")
UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5}
UNITS.update({"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4, "PIB": 1024**5})
SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")
SIZE_HINT = 'must be a positive number of bytes or a size like "100 GB" (units B, KB, MB, GB, TB, PB)'
# pydantic's own checks that can fail on a rules file, in the file's vocabulary
BUILTIN_MESSAGES = {
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "bool_type": "must be true or false",
    "string_type": "must be text",
}
INVALID, CONFLICT = "invalid", "conflict"  # our error types: the value is shown / the message says all


class RulesModel(BaseModel):
    """A section of the rules file: unknown keys are errors (a misspelt key is a threshold not applied)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RulesError(ValueError):
    """A rules file that cannot be used: ``errors`` holds one line per problem, each naming rule and field."""

    def __init__(self, errors: str | Iterable[str], source: str = ""):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        self.source = source  # the file, when known
        super().__init__("; ".join(self.errors))

    def __reduce__(self):
        return type(self), (self.errors, self.source)

    @classmethod
    def from_validation(cls, exc: ValidationError, document: Any, source: str = "") -> RulesError:
        return cls(error_lines(exc, document), source)

    def summary(self) -> str:
        """One line for a sensor's skip reason or a log: the file and every error."""
        where = f"rules file {self.source}" if self.source else "rules"
        return f"{where} is invalid: {'; '.join(self.errors)}"


def invalid(message: str) -> PydanticCustomError:
    """An error shown as ``<path>: <message>, got <value>``."""
    return PydanticCustomError(INVALID, message)


def errors_at(title: str, *errors: tuple[tuple, str, Any]) -> ValidationError:
    """Errors a model validator found on its own fields: (location below the model, message, value).

    pydantic prefixes the location with the model's own path, so cross-field errors read like field
    errors (``service.storage_bytes.critical: must not be below warning ...``).
    """
    details = [
        InitErrorDetails(type=invalid(message), loc=loc, input=value) for loc, message, value in errors
    ]
    return ValidationError.from_exception_data(title, details)


def repeats(items: Iterable[Any], key: Callable[[Any], Any]) -> list[tuple[int, Any, int]]:
    """``(index, item, index of the first)`` for each item whose key an earlier item already has.

    Why shared: every list section that names its entries (alert rules by name, action policies by rule
    and action) refuses a repeat the same way, pointing at both places; only the message differs.
    """
    first: dict[Any, int] = {}
    found = []
    for i, item in enumerate(items):
        k = key(item)
        if k in first:
            found.append((i, item, first[k]))
        first.setdefault(k, i)
    return found


def conflict(title: str, loc: tuple, message: str) -> ValidationError:
    """A cross-field error whose message already shows the values involved."""
    detail = InitErrorDetails(type=PydanticCustomError(CONFLICT, message), loc=loc, input=None)
    return ValidationError.from_exception_data(title, [detail])


# --- error lines --------------------------------------------------------------------------------------


def error_lines(exc: ValidationError, document: Any) -> list[str]:
    """One line per problem, in file order; a mapping's unknown keys share a line, so do its missing ones."""
    items: list[str | tuple] = []  # a line, or the location of a mapping with unknown or missing keys
    keys: dict[tuple, dict[str, list[str]]] = {}
    for error in exc.errors(include_url=False):
        loc, kind = error["loc"], error["type"]
        if kind in ("extra_forbidden", "missing"):
            if loc[:-1] not in keys:
                keys[loc[:-1]] = {"extra_forbidden": [], "missing": []}
                items.append(loc[:-1])
            keys[loc[:-1]][kind].append(str(loc[-1]))
            continue
        value = error["input"]
        if loc and loc[-1] == "[key]":  # a bad key: name its mapping, show the key
            loc = loc[:-2]
        line = f"{path(loc, document)}: {BUILTIN_MESSAGES.get(kind, error['msg'])}"
        items.append(line if kind == CONFLICT else f"{line}, got {yaml_text(value)}")
    lines = []
    for item in items:
        if isinstance(item, str):
            lines.append(item)
            continue
        where, unknown, missing = path(item, document), keys[item]["extra_forbidden"], keys[item]["missing"]
        if unknown:
            lines.append(f"{where}: unknown field(s) {', '.join(_with_guess(n, missing) for n in unknown)}")
        if missing:
            lines.append(f"{where}: missing field(s) {', '.join(missing)}")
    return lines


def _with_guess(name: str, missing: list[str]) -> str:
    guess = difflib.get_close_matches(name, missing, n=1)
    return f"{name} (did you mean {guess[0]}?)" if guess else name


def path(loc: tuple, document: Any) -> str:
    """``alerts.rules[3] (rapid_upload).severity``: walks the document to name list items."""
    out, node = "", document
    for part in loc:
        if isinstance(node, dict) or isinstance(part, str):
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
            continue
        out += f"[{part}]"
        node = node[part] if isinstance(node, list | tuple) and 0 <= part < len(node) else None
        name = node.get("name") if isinstance(node, dict) else None
        if isinstance(name, str):
            out += f" ({name})"
    return out or "rules"


def yaml_text(value: Any, limit: int = 100) -> str:
    """The value as YAML writes it (``null``, ``.inf``, ``"urgent"``), on one line, shortened."""
    text = _yaml(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_yaml(k)}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | set):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, date):
        return value.isoformat()
    return repr(value)


# --- value checks: each returns the value as the detectors use it, or raises ``invalid`` --------------


def _real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def size_bytes(value: Any) -> int:
    """Bytes from a positive number or "100 GB" (binary units: 1 GB = 2^30, as the runbook's 2 TB)."""
    if _real(value) and value > 0:
        return int(value)
    match = SIZE.match(value) if isinstance(value, str) else None
    if not match or match.group(2).upper() not in UNITS or float(match.group(1)) <= 0:
        raise invalid(SIZE_HINT)
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def number(
    *, zero: bool = False, whole: bool = False, within: Callable[[Any], bool] | None = None, what: str = ""
) -> Callable[[Any], Any]:
    """A check for a finite number above 0 (or from 0), optionally whole, optionally ``within(value)``."""
    kind = ("a non-negative" if zero else "a positive") + (" whole number" if whole else " number")

    def check(value: Any) -> float | int:
        ok = _real(value) and (value >= 0 if zero else value > 0) and not (whole and value % 1)
        if not ok or (within is not None and not within(value)):
            raise invalid(what or f"must be {kind}")
        return int(value) if whole else float(value)

    return check


def one_of(choices: tuple[str, ...], also: tuple = ()) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str) or (value not in choices and value not in also):
            raise invalid(f"must be one of {', '.join(choices)}")
        return value

    return check


def mapping(what: str, *, non_empty: bool = False) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, dict) or (non_empty and not value):
            raise invalid(what)
        return value

    return check


def listing(what: str, *, non_empty: bool = True) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, list) or (non_empty and not value):
            raise invalid(what)
        return value

    return check


def _extensions(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise invalid("must be a non-empty list of file extensions")
    return tuple(sorted({v.strip().lower().lstrip(".") for v in value}))


Size = Annotated[int, BeforeValidator(size_bytes)]
SizeFloat = Annotated[float, BeforeValidator(lambda v: float(size_bytes(v)))]
Positive = Annotated[float, BeforeValidator(number())]
NonNegative = Annotated[float, BeforeValidator(number(zero=True))]
PositiveInt = Annotated[int, BeforeValidator(number(whole=True))]
NonNegativeInt = Annotated[int, BeforeValidator(number(zero=True, whole=True))]
_fraction = number(within=lambda v: v < 1, what="must be a fraction between 0 and 1 (0.05 = 5 %)")
Percent = Annotated[
    float,
    BeforeValidator(number(within=lambda v: v <= 100, what="must be a percentage above 0 and up to 100")),
]
Severity = Annotated[str, BeforeValidator(one_of(SEVERITIES))]
Extensions = Annotated[tuple[str, ...], BeforeValidator(_extensions)]
# levels (warning/critical) may be left out but not written empty: ``critical:`` is a forgotten value
SizeLevel = Annotated[int | None, BeforeValidator(size_bytes)]
NumberLevel = Annotated[float | None, BeforeValidator(number())]
FractionLevel = Annotated[float | None, BeforeValidator(_fraction)]
Fraction = Annotated[float, BeforeValidator(_fraction)]
