"""Access logs: AWS's record format, encodings, delivery quirks and malformed lines."""

from __future__ import annotations

import re
from collections import defaultdict

from tests.synthetic.helpers import fields, labels, log_lines

OWNER = re.compile(r"^[0-9a-f]{64} ")


def _records(root):
    good, bad = [], []
    for obj, line in log_lines(root):
        f = fields(line)
        (good if OWNER.match(line) and 24 <= len(f) <= 27 else bad).append((obj, line, f))
    return good, bad


def test_lines_have_24_to_27_fields_and_malformed_match_labels(mid):
    good, bad = _records(mid.out_dir)
    assert len(good) + len(bad) == mid.access_log_lines
    counts = defaultdict(int)
    for _, _, f in good:
        counts[len(f)] += 1
    assert counts[27] > 0.9 * len(good) and counts[24] > 0 and counts[25] > 0
    malformed = sum(
        lab["details"]["count"] for lab in labels(mid.out_dir) if lab["pattern"] == "malformed_log_line"
    )
    assert len(bad) == malformed == mid.malformed_log_lines > 0


def test_key_encodings_per_operation(mid):
    good, _ = _records(mid.out_dir)
    by_op = defaultdict(list)
    for _, _, f in good:
        by_op[f[6]].append(f)
    assert {
        "REST.PUT.OBJECT",
        "REST.GET.OBJECT",
        "REST.HEAD.OBJECT",
        "REST.DELETE.OBJECT",
        "REST.GET.BUCKET",
        "REST.POST.RESTORE",
        "BATCH.DELETE.OBJECT",
        "S3.EXPIRE.OBJECT",
    } <= set(by_op)
    rest_keys = [f[7] for op, fs in by_op.items() if op.startswith("REST.") for f in fs]
    assert any("%2520" in k for k in rest_keys), "a key with a space is double-encoded in REST records"
    assert all(" " not in k and "%20" not in k.replace("%2520", "") for k in rest_keys)
    assert all(f[8] == "-" and f[9] == "204" for f in by_op["BATCH.DELETE.OBJECT"])
    assert all(f[3] == "-" and f[9] == "-" and f[4] == "AmazonS3" for f in by_op["S3.EXPIRE.OBJECT"])
    assert all(f[7] == "-" for f in by_op["REST.GET.BUCKET"])
    statuses = {f[9] for f in by_op["REST.GET.OBJECT"]}
    assert {"200", "206", "304", "403", "404"} <= statuses
    assert all(re.fullmatch(r"[0-9A-F]{16}", f[5]) for _, _, f in good)
    assert all(f[2].startswith("[") and f[2].endswith(" +0000]") for _, _, f in good)


def test_both_key_formats_late_delivery_and_duplicates(mid):
    good, _ = _records(mid.out_dir)
    objects = {obj for obj, _, _ in good}
    simple = [
        o for o in objects if re.fullmatch(r"access-logs/\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}", o)
    ]
    partitioned = [
        o
        for o in objects
        if re.fullmatch(
            r"access-logs/123456789012/us-east-1/photos-prod/\d{4}/\d\d/\d\d/\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}",
            o,
        )
    ]
    assert simple and partitioned and len(simple) + len(partitioned) == len(objects) == mid.access_log_objects
    seen = defaultdict(set)
    for obj, _line, f in good:
        seen[f[5]].add(obj)
    dupes = [rid for rid, objs in seen.items() if len(objs) > 1]
    assert len(dupes) >= 0.002 * len(seen)
    after_midnight = [
        (obj, f)
        for obj, _, f in good
        if obj.rsplit("/", 1)[-1][8:10] != f[2][1:3]  # object's day differs from the request's day
    ]
    assert after_midnight, "late-evening requests are delivered in the next day's objects"
