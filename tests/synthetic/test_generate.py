"""The whole generator: users DB, labels, thresholds, determinism and the anomaly switch."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import synthetic
from synthetic import generate
from synthetic.anomalies import PATTERNS
from synthetic.savings_cases import ABSENT_USERS, LEAK_PATTERNS
from tests.synthetic.helpers import fields, labels, log_lines

GB = 10**9


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "users.sqlite"
    }


def test_summary_and_progress(small):
    summary, lines = small
    assert len(lines) == 10 and lines[0].startswith("2026-09-24:")
    assert summary.end == date(2026, 10, 3) and summary.objects_last_day > 60 * 50
    assert summary.inventory_rows_total > summary.objects_last_day * 8
    assert summary.access_log_lines > summary.requests > 0


def test_users_db(mid):
    engine = sa.create_engine(f"sqlite:///{mid.users_db_path}")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT user_id, plan, quota_bytes, created_at, status FROM users")
        ).fetchall()
    engine.dispose()
    # two deleted users' rows are gone while their files stay (the savings layer's orphaned-data cases)
    orphaned = {r["user_id"] for r in labels(mid.out_dir) if r["pattern"] == "orphaned_data"}
    assert len(orphaned) == ABSENT_USERS and not orphaned & {r[0] for r in rows}
    assert len(rows) == 300 - ABSENT_USERS and rows[0][0] == "1001"
    assert {r[1] for r in rows} == {"personal", "family"}
    assert {r[2] for r in rows if r[1] == "personal"} == {2 * 1024**4}
    assert sum(r[4] == "active" for r in rows) > 250
    assert sum(r[3] >= "2026-09-24" for r in rows) > 0, "some users sign up during the period"


def test_labels_cover_every_pattern_after_the_first_week(mid):
    got = labels(mid.out_dir)
    cdn = {"cdn_hit_ratio_drop", "cdn_hotlinking", "malformed_cdn_line"}  # the CloudFront logs' labels
    expected = set(PATTERNS) | {"malformed_log_line"} | set(LEAK_PATTERNS) | cdn
    assert {lab["pattern"] for lab in got} == expected
    first_allowed = (mid.start + timedelta(days=7)).isoformat()
    malformed = ("malformed_log_line", "malformed_cdn_line")
    anomalies = [lab for lab in got if lab["pattern"] not in (*malformed, *LEAK_PATTERNS)]
    assert all(lab["date"] >= first_allowed for lab in anomalies)
    spike = next(lab for lab in got if lab["pattern"] == "cost_spike")
    assert spike["details"]["cost_usd"] > 1.5 * spike["details"]["trailing_mean_usd"]
    assert mid.anomalies == len(got)


def test_normal_users_stay_below_thresholds(mid):
    flagged = defaultdict(set)
    for lab in labels(mid.out_dir):
        flagged[lab["pattern"]].add((lab["date"], lab["user_id"]))
    uploads, denied, ips, restored = defaultdict(int), defaultdict(int), defaultdict(set), defaultdict(int)
    for _, line in log_lines(mid.out_dir):
        f = fields(line)
        if len(f) < 24 or not f[7].startswith("users/"):
            continue
        day = date(int(f[2][8:12]), ["Sep", "Oct"].index(f[2][4:7]) + 9, int(f[2][1:3])).isoformat()
        who = (day, f[7].split("/")[1])
        if f[6] == "REST.PUT.OBJECT":
            uploads[who] += int(f[12])
        if f[9] == "403":
            denied[who] += 1
        if f[6] == "REST.GET.OBJECT" and f[9] != "403":
            ips[who].add(f[3])
        if f[6] == "REST.POST.RESTORE" and f[9] in ("200", "202"):
            restored[who] += int(f[12])
    assert {w for w, b in uploads.items() if b > 100 * GB} == flagged["daily_upload_volume"]
    assert {w for w, n in denied.items() if n > 10} == flagged["failed_access_storm"]
    assert {w for w, s in ips.items() if len(s) > 5} == flagged["sharing_abuse"]
    assert max(n for w, n in denied.items() if w not in flagged["failed_access_storm"]) <= 3
    # large retrieval: over 10 GiB asked back from archive in a day is the injected user-day and no other
    assert {w for w, b in restored.items() if b > 10 * 1024**3} == flagged["large_retrieval"] != set()


def test_same_seed_same_bytes_other_seed_differs(small, tmp_path):
    summary, _ = small
    again = generate(tmp_path / "a", summary.start, 10, 60, seed=7, inventory_rows_per_file=2_500)
    other = generate(tmp_path / "b", summary.start, 10, 60, seed=8, inventory_rows_per_file=2_500)
    assert _digests(again.out_dir) == _digests(summary.out_dir)
    assert _digests(other.out_dir) != _digests(summary.out_dir)


def test_normal_month_has_no_labels(tmp_path):
    summary = generate(
        tmp_path, date(2026, 10, 1), 9, 40, seed=5, anomalies=False, inventory_format="parquet"
    )
    assert (tmp_path / "labels.jsonl").read_text() == "" and summary.anomalies == 0
    assert summary.malformed_log_lines == 0
    assert list(tmp_path.glob("inventory/photos-prod/daily-all-versions/data/*.parquet"))


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_a_failed_generation_leaves_only_complete_reports(tmp_path, monkeypatch, error):
    """An error (or Ctrl-C) during the generation cancels the inventory reports not yet started; the
    ones being written are finished (their manifest last), so every manifest on disk names only files
    that exist with its recorded size and MD5, no data file is left outside a manifest, and no day
    is announced as done."""
    write_inventory = synthetic._write_inventory
    started: list[date] = []
    release = threading.Event()

    def gated(out_dir, cat, day, *args):  # the two workers take the first two days, then hold
        started.append(day)
        release.wait(timeout=60)
        return write_inventory(out_dir, cat, day, *args)

    def fail(*args, **kwargs):  # the access logs' step fails once both workers are writing
        deadline = time.monotonic() + 60
        while len(started) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        threading.Timer(0.5, release.set).start()  # let the running reports finish after the cancel
        raise error

    monkeypatch.setattr(synthetic, "_write_inventory", gated)
    monkeypatch.setattr(synthetic, "write_logs", fail)
    start, lines = date(2026, 9, 24), []
    with pytest.raises(type(error)):
        generate(tmp_path, start, 10, 60, seed=7, progress=lines.append, inventory_rows_per_file=2_500)

    assert lines == []
    assert sorted(started) == [start, start + timedelta(days=1)], "the other 8 reports never started"
    root = tmp_path / "inventory/photos-prod/daily-all-versions"
    manifests = sorted(root.glob("*/manifest.json"))
    assert [m.parent.name for m in manifests] == ["2026-09-24T01-00Z", "2026-09-25T01-00Z"]
    assert sorted(p.name for p in root.iterdir()) == ["2026-09-24T01-00Z", "2026-09-25T01-00Z", "data"]
    listed = set()
    for m in manifests:
        body = m.read_bytes()
        assert (m.parent / "manifest.checksum").read_text() == hashlib.md5(body).hexdigest()
        files = json.loads(body)["files"]
        assert len(files) > 1
        for f in files:
            path = tmp_path / f["key"]
            assert path.stat().st_size == f["size"]
            assert hashlib.md5(path.read_bytes()).hexdigest() == f["MD5checksum"]
            listed.add(f["key"])
    on_disk = {p.relative_to(tmp_path).as_posix() for p in (root / "data").iterdir()}
    assert on_disk == listed
    assert not (tmp_path / "labels.jsonl").exists()
