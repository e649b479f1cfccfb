"""What users' storage could stop costing: storage-class recommendations and leaks (issue 18).

Cores only (no Dagster): the billing rules from the price book (``prices``), the set-based SQL beside
its module (``*.sql``), and the checks' independent recomputation. The assets in ``assets/savings``
run them over a window of days.
"""

from __future__ import annotations

from importlib import resources


def sql(name: str) -> str:
    """The text of ``bucketlens/savings/<name>.sql``."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
