"""Reading reports back: the page, its embedded figures and charts, the warehouse, the run's metadata."""

import base64
import io
import json
import re
from pathlib import Path

from PIL import Image

from tests.assets.raw_helpers import query

__all__ = ["query", "page", "figures", "chart_images", "materialization", "check_passed"]


def page(home: Path, report: str, day) -> str:
    return (home / "reports" / report / f"{day.isoformat()}.html").read_text(encoding="utf-8")


def figures(html: str) -> dict:
    (payload,) = re.findall(r'<script type="application/json" id="figures">(.*?)</script>', html)
    return json.loads(payload)


def chart_images(html: str) -> list[Image.Image]:
    """Every embedded chart, decoded and verified as a PNG."""
    images = []
    for data in re.findall(r'src="data:image/png;base64,([^"]+)"', html):
        raw = base64.b64decode(data)
        assert raw.startswith(b"\x89PNG\r\n\x1a\n")
        Image.open(io.BytesIO(raw)).verify()
        images.append(Image.open(io.BytesIO(raw)))
    return images


def materialization(result, key: str, day=None):
    """The metadata of the asset's materialization (of ``day``'s partition when given)."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    if day is not None:
        events = [e for e in events if e.partition == day.isoformat()]
    return {k: getattr(v, "value", v) for k, v in events[-1].materialization.metadata.items()}


def check_passed(result, name: str) -> bool:
    return all(e.passed for e in result.get_asset_check_evaluations() if e.check_name == name) and any(
        e.check_name == name for e in result.get_asset_check_evaluations()
    )
