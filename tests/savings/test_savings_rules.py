"""The rules file's savings and KPI sections and alert rules, and the price book's billing rules: values
as written, and mistakes named by file, rule and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bucketlens.alerts.rules import load_rules_file
from bucketlens.anomaly.rules import DEFAULT_RULES, RulesError, load_rules, parse_rules
from bucketlens.costing.price_book import PriceBook, PriceBookError
from bucketlens.savings.prices import baseline, candidate_classes, storage_prices

KIB = 1024
DEFAULT_BOOK = Path(__file__).resolve().parents[2] / "bucketlens" / "costing" / "price_book.json"


def _doc() -> dict:
    return yaml.safe_load(DEFAULT_RULES.read_text())


def test_defaults_carry_the_runbook_lines():
    rules, alerting = load_rules_file()
    rec, leaks, targets = rules.savings.recommendations, rules.savings.leaks, rules.kpis.targets
    assert rec.transition_ages_days == (30, 60, 90, 180, 365) and rec.history_days == 30
    assert (leaks.noncurrent_version_days, leaks.delete_marker_days, leaks.multipart_upload_days) == (
        30,
        30,
        7,
    )
    assert leaks.orphaned_statuses == ("closed", "deleted")
    # avatar system guide: upload success > 99 %, error rate < 1 %, < $0.01 per upload, < $0.02 per GB,
    # dedup > 30 %, time to first byte < 100 ms; alert lines: upload failures > 10 %, errors > 5 %
    assert (targets.upload_success_rate, targets.error_rate, targets.time_to_first_byte_ms) == (
        0.99,
        0.01,
        100,
    )
    lines = {r.name: (r.source, r.where, r.op, r.threshold, r.severity) for r in alerting.rules}
    assert lines["upload_failures"] == (
        "usage.service_daily_kpis",
        {"kpi": ("upload_failure_rate",)},
        ">",
        0.10,
        "critical",
    )
    assert lines["request_errors"][2:] == (">", 0.05, "critical")
    assert lines["first_byte_time"][2:] == (">", 200.0, "warning")
    for leak in ("orphaned_data", "noncurrent_versions", "delete_markers", "incomplete_multipart_uploads"):
        assert (
            lines[leak][:2] == ("savings.storage_leaks", {"leak_type": (leak,)}) and lines[leak][4] == "info"
        )


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["savings", "recommendations", "transition_ages_days"],
            [30, "90"],
            "must be a non-empty list of whole days",
        ),
        (["savings", "recommendations", "min_history_days"], 45, "must not exceed history_days (30)"),
        (["savings", "recommendations", "max_break_even_months"], 0, "must be a positive number"),
        (["savings", "leaks", "orphaned_statuses"], [], "must be a non-empty list of user statuses"),
        (["savings", "leaks", "multipart_upload_days"], 2.5, "must be a positive whole number"),
        (["kpis", "targets", "upload_success_rate"], 99, "must be a fraction between 0 and 1"),
    ],
)
def test_mistakes_name_the_section_and_field(path, value, message):
    doc = _doc()
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(RulesError) as err:
        parse_rules(doc)
    (line,) = err.value.errors
    assert line.startswith(".".join(path) + ": ") and message in line


def test_a_file_written_before_these_sections_keeps_working_with_the_defaults(tmp_path):
    doc = _doc()
    del doc["savings"], doc["kpis"]
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert load_rules(path).savings == load_rules().savings and load_rules(path).kpis == load_rules().kpis
    doc["savings"] = {"recommendations": _doc()["savings"]["recommendations"]}  # leaks left out: an error
    with pytest.raises(RulesError, match=r"savings: missing field\(s\) leaks"):
        parse_rules(doc)


def test_the_price_book_holds_every_rule_with_its_date():
    by_class = {c.storage_class: c for c in candidate_classes(PriceBook.load(), "aws_s3_us_east_1")}
    ia, gir, da, it = (
        by_class[c] for c in ("STANDARD_IA", "GLACIER_IR", "DEEP_ARCHIVE", "INTELLIGENT_TIERING")
    )
    # minimum billable size and duration
    assert (ia.min_billable_bytes, ia.min_days, ia.min_transition_age_days) == (128 * KIB, 30, 30)
    assert (gir.min_billable_bytes, gir.min_days) == (128 * KIB, 90)
    assert (da.min_billable_bytes, da.min_days) == (0, 180)
    # archive overhead: 32 KiB at the class rate, 8 KiB at Standard's
    assert (da.overhead_class_bytes, da.overhead_standard_bytes) == (32 * KIB, 8 * KIB)
    # transition requests per object; Intelligent-Tiering monitoring above 128 KiB
    assert [c.transition_per_object for c in (ia, gir, da, it)] == [
        0.01 / 1000,
        0.02 / 1000,
        0.05 / 1000,
        0.01 / 1000,
    ]
    assert (it.monitoring_per_object_month, it.monitored_min_bytes, it.min_days) == (
        0.0025 / 1000,
        128 * KIB,
        0,
    )
    # retrieval: per GB read, and Deep Archive's restore
    assert (ia.retrieval_per_gb, gir.retrieval_per_gb, da.retrieval_per_gb, it.retrieval_per_gb) == (
        0.01,
        0.03,
        0.02,
        0,
    )
    assert da.restore_per_request == 0.10 / 1000 and ia.restore_per_request == 0
    assert {c.price_as_of for c in (ia, gir, da, it)} == {"2026-06-17"}
    (r2,) = candidate_classes(PriceBook.load(), "cloudflare_r2")
    assert (r2.storage_per_gb_month, r2.retrieval_per_gb, r2.min_days, r2.size_filter) == (
        0.01,
        0.01,
        30,
        False,
    )
    assert r2.price_as_of == "2026-12-06"
    assert baseline(PriceBook.load(), "aws_s3_us_east_1").tiers == [
        (0.0, 51200.0, 0.023), (51200.0, 512000.0, 0.022), (512000.0, None, 0.021)
    ]  # fmt: skip
    assert {
        p.storage_class: p.min_billable_bytes for p in storage_prices(PriceBook.load(), "aws_s3_us_east_1")
    }["ONEZONE_IA"] == 128 * KIB


def test_a_bad_price_book_names_the_file_and_the_entry(tmp_path):
    data = json.loads(DEFAULT_BOOK.read_text())
    del data["aws_s3_us_east_1"]["minimums"]["GLACIER_IR"]["min_days"]
    path = tmp_path / "book.json"
    path.write_text(json.dumps(data))
    with pytest.raises(
        PriceBookError,
        match=rf"^price book {path}: aws_s3_us_east_1\.minimums\.GLACIER_IR\.min_days is missing$",
    ):
        candidate_classes(PriceBook.load(path), "aws_s3_us_east_1")
    data = json.loads(DEFAULT_BOOK.read_text())
    data["aws_s3_us_east_1"]["minimums"]["STANDARD_IA"]["min_billable_object_kb"] = (
        100  # not a group boundary
    )
    path.write_text(json.dumps(data))
    with pytest.raises(PriceBookError, match="min_billable_object_kb must be 0 or a power of two"):
        candidate_classes(PriceBook.load(path), "aws_s3_us_east_1")
    data["aws_s3_us_east_1"]["storage_per_gb_month"]["GLACIER_IR"] = "cheap"
    path.write_text(json.dumps(data))
    with pytest.raises(
        PriceBookError, match=r"storage_per_gb_month\.GLACIER_IR must be a non-negative number, got 'cheap'"
    ):
        PriceBook.load(path).number("aws_s3_us_east_1.storage_per_gb_month.GLACIER_IR")
    path.write_text('{"_about": "x",\n "aws": [1, }')
    with pytest.raises(PriceBookError, match=rf"^price book {path}:2:13: not valid JSON: Expecting value$"):
        PriceBook.load(path)


def test_as_of_is_the_date_of_the_most_specific_source():
    book = PriceBook.load()
    assert book.as_of("aws_s3_us_east_1.storage_per_gb_month.GLACIER_IR") == "2026-06-17"
    assert (
        book.as_of("aws_s3_us_east_1.storage_per_gb_month.INTELLIGENT_TIERING.monitored_min_object_kb")
        == "2026-12-06"
    )
    assert book.as_of("aws_s3_us_east_1.minimums.GLACIER.min_days") == "2026-12-06"
    assert book.as_of("nowhere") == ""
