"""Storage-class recommendations priced by AWS's (and R2's) rules, each rule a case computed by hand here.

Prices (price book): Standard $0.023/GB-month (first 50 TB), Standard-IA $0.0125, Glacier IR $0.004, Deep
Archive $0.00099, Intelligent-Tiering Infrequent Access $0.0125 and $0.0025 per 1,000 monitored objects;
lifecycle transitions per 1,000: IA $0.01, Glacier IR $0.02, Deep Archive $0.05, Intelligent-Tiering
$0.01; retrieval per GB: IA $0.01, Glacier IR $0.03, Deep Archive $0.02 (standard restore, $0.10 per 1,000
restores); GET per 1,000: Standard $0.0004, IA $0.001, Glacier IR $0.01. GB = 2^30 bytes; a month is 30
days. Every test uses one transition age (30 days) so the search only chooses the size range.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bucketlens.anomaly.rules import load_rules
from bucketlens.anomaly.rules_savings import SavingsRules
from bucketlens.costing.price_book import PriceBook
from bucketlens.keys import KeyPattern
from bucketlens.savings.recommendations import (
    RECOMPUTE_BY_DAY_SQL,
    RULES_BY_DAY_SQL,
    TABLE,
    TABLE_DDL,
    load_prices,
    parameters,
    recompute_params,
    rules_params,
    stage_recommendations,
)
from tests.savings.tables import DAY, GIB, KIB, MIB, connect, objects, observed, request, users

AWS, R2 = "aws_s3_us_east_1", "cloudflare_r2"
STD = 0.023


def savings_rules(**changes) -> SavingsRules:
    base = load_rules().savings.model_dump(mode="json")
    base["recommendations"].update({"transition_ages_days": [30], "min_monthly_saving_usd": 0.001, **changes})
    return SavingsRules.model_validate(base)


def recommend(con, provider=AWS, rules=None) -> dict[tuple[str, str], dict]:
    rules = rules or savings_rules()
    stage_recommendations(con, "recs", DAY, DAY, rules, PriceBook.load(), provider, KeyPattern())
    cur = con.execute("SELECT * FROM recs")
    names = [d[0] for d in cur.description]
    return {(r[2], r[3]): dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def usd(x: float) -> float:
    return round(x, 6)


@pytest.fixture
def con():
    c = connect()
    observed(c)  # 30 days of access logs: the history is a month, nothing is scaled
    return c


def test_small_objects_are_billed_as_128_kib_in_standard_ia(con):
    objects(con, "small", 1000, 64 * KIB, 40)
    objects(con, "large", 1000, 256 * KIB, 40)
    rows = recommend(con)
    small, large = rows[("small", "STANDARD_IA")], rows[("large", "STANDARD_IA")]
    # now: 1000 × 64 KiB = 0.06103515625 GB × 0.023; in IA each is billed as 128 KiB: 0.1220703125 GB × 0.0125
    assert float(small["current_monthly_usd"]) == usd(0.06103515625 * 0.023)  # 0.001404
    assert float(small["monthly_saving_usd"]) == usd(
        0.06103515625 * 0.023 - 0.1220703125 * 0.0125
    )  # -0.000122
    assert not small["recommended"] and small["reason"] == "the move would cost more than it saves"
    # 256 KiB objects are billed as they are: 0.244140625 GB × (0.023 - 0.0125) = 0.002563 a month;
    # 1000 transitions × $0.01/1000 = $0.01 once, paid back in 0.01 / 0.0025634765625 = 3.90 months
    assert float(large["monthly_saving_usd"]) == usd(0.244140625 * (0.023 - 0.0125)) == 0.002563
    assert float(large["transition_cost_usd"]) == 0.01
    assert large["break_even_months"] == 3.9 and large["recommended"]
    # Glacier IR has the same 128 KiB minimum: 0.1220703125 GB × 0.004 for the small objects
    assert float(rows[("small", "GLACIER_IR")]["storage_saving_usd"]) == usd(
        0.06103515625 * 0.023 - 0.1220703125 * 0.004
    )


def test_deletes_before_the_minimum_duration_pay_the_remaining_days(con):
    objects(con, "churn", 1000, MIB, 100)
    # ten 1 MiB objects listed five days ago, 45 days old, deleted that day
    gone_day = DAY - timedelta(days=5)
    for key in objects(con, "churn", 10, MIB, 45, day=gone_day, name="deleted"):
        request(con, gone_day, "REST.DELETE.OBJECT", key, "churn", status=204)
    rows = recommend(con)
    ten_mib = 10 * MIB / GIB  # 0.009765625 GB
    # moved at 30 days, deleted at 45: 15 days in the class
    # IA (30 days minimum): 15 days more × 0.009765625 GB × 0.0125 / 30
    assert float(rows[("churn", "STANDARD_IA")]["early_delete_usd"]) == usd(ten_mib * 0.0125 * 15 / 30)
    # Glacier IR (90): 75 days × 0.004
    assert float(rows[("churn", "GLACIER_IR")]["early_delete_usd"]) == usd(ten_mib * 0.004 * 75 / 30)
    # Deep Archive (180): 165 days, its 32 KiB per object at the archive rate included
    assert float(rows[("churn", "DEEP_ARCHIVE")]["early_delete_usd"]) == usd(
        10 * (MIB + 32 * KIB) / GIB * 0.00099 * 165 / 30
    )
    # Intelligent-Tiering has no minimum duration
    assert float(rows[("churn", "INTELLIGENT_TIERING")]["early_delete_usd"]) == 0
    assert rows[("churn", "STANDARD_IA")]["early_deletes"] == 10
    # the saving is net of it: 0.9765625 GB × 0.0105 - the early deletes
    assert float(rows[("churn", "STANDARD_IA")]["monthly_saving_usd"]) == usd(
        1000 * MIB / GIB * (0.023 - 0.0125) - ten_mib * 0.0125 * 15 / 30
    )


def test_a_delete_of_another_version_is_not_an_early_delete_of_the_listed_one(con):
    objects(con, "churn", 1000, MIB, 100)
    gone_day = DAY - timedelta(days=5)
    # ten objects whose older version v1 is deleted: the current v2 listed that day stays
    for key in objects(con, "churn", 10, MIB, 45, day=gone_day, name="kept", version="v2"):
        request(con, gone_day, "REST.DELETE.OBJECT", key, "churn", status=204, version_id="v1")
    # four whose listed version is the one deleted
    for key in objects(con, "churn", 4, MIB, 45, day=gone_day, name="gone", version="v2"):
        request(con, gone_day, "REST.DELETE.OBJECT", key, "churn", status=204, version_id="v2")
    row = recommend(con)[("churn", "STANDARD_IA")]
    assert row["early_deletes"] == 4
    assert float(row["early_delete_usd"]) == usd(4 * MIB / GIB * 0.0125 * 15 / 30)


def test_a_read_warms_objects_from_its_day_on_not_on_the_days_before_it(con):
    before = DAY - timedelta(days=1)
    keys = objects(con, "reader", 10, 10 * MIB, 100)
    objects(con, "reader", 10, 10 * MIB, 99, day=before)
    for key in keys[:4]:
        request(con, DAY, "REST.GET.OBJECT", key, "reader", bytes_sent=10 * MIB)
    # both days in one run: the later day's reads must not warm the earlier day's objects
    stage_recommendations(con, "recs", before, DAY, savings_rules(), PriceBook.load(), AWS, KeyPattern())
    cold = dict(
        con.execute("SELECT usage_date, cold_bytes FROM recs WHERE storage_class = 'STANDARD_IA'").fetchall()
    )
    assert cold == {before: 10 * 10 * MIB, DAY: 6 * 10 * MIB}


def test_deep_archive_bills_8_kib_at_standard_and_32_kib_archived_per_object(con):
    objects(con, "tiny", 1000, 16 * KIB, 200)
    objects(con, "videos", 100, 100 * MIB, 40)
    rows = recommend(con)
    # 1000 × 16 KiB = 0.0152587890625 GB; overhead 1000 × 32 KiB = 0.030517578125 GB at 0.00099 and
    # 1000 × 8 KiB = 0.00762939453125 GB at 0.023: the move saves 0.000130 instead of 0.000336
    tiny = rows[("tiny", "DEEP_ARCHIVE")]
    expected = 0.0152587890625 * 0.023 - (
        0.0152587890625 * 0.00099 + 0.030517578125 * 0.00099 + 0.00762939453125 * 0.023
    )
    assert float(tiny["storage_saving_usd"]) == usd(expected) == 0.00013
    # 1000 transitions × $0.05/1000 = $0.05 would take 384 months to pay back
    assert float(tiny["transition_cost_usd"]) == 0.05 and not tiny["recommended"]
    # 100 × 100 MiB = 9.765625 GB: 0.224609 now, 0.009689 archived (overhead included)
    videos = rows[("videos", "DEEP_ARCHIVE")]
    archived = 9.765625 * 0.00099 + 100 * 32 * KIB / GIB * 0.00099 + 100 * 8 * KIB / GIB * STD
    assert float(videos["monthly_saving_usd"]) == usd(9.765625 * STD - archived) == 0.214921


def test_transition_fees_set_the_break_even_and_the_rule_says_what_moves(con):
    objects(con, "u4", 100, 100 * MIB, 40)
    row = recommend(con)[("u4", "DEEP_ARCHIVE")]
    # 100 transitions × $0.05 / 1000 = $0.005 once; 0.005 / 0.2149208 a month = 0.02 months
    assert float(row["transition_cost_usd"]) == 0.005
    assert row["break_even_months"] == round(0.005 / (9.765625 * STD - 0.0096885376), 2) == 0.02
    # 100 MiB objects fall in the [64 MiB, 128 MiB) group: the rule moves objects above 64 MiB - 1 byte
    assert json.loads(row["lifecycle_rule"]) == {
        "Rules": [
            {
                "ID": "bucketlens-deep_archive-u4",
                "Status": "Enabled",
                "Filter": {"And": {"Prefix": "users/u4/", "ObjectSizeGreaterThan": 64 * MIB - 1}},
                "Transitions": [{"Days": 30, "StorageClass": "DEEP_ARCHIVE"}],
            }
        ]
    }
    assert (row["min_object_bytes"], row["max_object_bytes"], row["transition_age_days"]) == (
        64 * MIB,
        None,
        30,
    )


def test_intelligent_tiering_monitoring_can_cost_more_than_it_saves(con):
    objects(con, "mid", 1000, 200 * KIB, 40)
    objects(con, "big", 1000, MIB, 40)
    rows = recommend(con)
    # 1000 × 200 KiB = 0.19073486328125 GB × (0.023 - 0.0125) = 0.002003 saved, but monitoring 1000 objects
    # costs 1000 × $0.0025/1000 = $0.0025 a month: the move loses 0.000497 a month
    mid = rows[("mid", "INTELLIGENT_TIERING")]
    assert float(mid["storage_saving_usd"]) == usd(0.19073486328125 * (0.023 - 0.0125))
    assert float(mid["monitoring_usd"]) == 0.0025
    assert float(mid["monthly_saving_usd"]) == usd(0.19073486328125 * 0.0105 - 0.0025) == -0.000497
    assert not mid["recommended"]
    # 1 MiB objects: 0.9765625 GB × 0.0105 - 0.0025 = 0.007754 a month
    assert float(rows[("big", "INTELLIGENT_TIERING")]["monthly_saving_usd"]) == usd(
        0.9765625 * 0.0105 - 0.0025
    )


def test_intelligent_tiering_neither_monitors_nor_tiers_objects_under_128_kib(con):
    objects(con, "small", 1000, 100 * KIB, 40)
    row = recommend(con)[("small", "INTELLIGENT_TIERING")]
    # they stay at the Frequent Access rate (= Standard) and pay no monitoring: nothing saved, fees lost
    assert (float(row["storage_saving_usd"]), float(row["monitoring_usd"])) == (0, 0)
    assert float(row["transition_cost_usd"]) == 0.01 and not row["recommended"]


def test_the_users_own_reads_price_retrieval_per_class(con):
    keys = objects(con, "reader", 100, 10 * MIB, 100)
    # 50 of the objects read once each, three days ago (listed then, 97 days old)
    objects(con, "reader", 100, 10 * MIB, 97, day=DAY - timedelta(days=3))
    for key in keys[:50]:
        request(con, DAY - timedelta(days=3), "REST.GET.OBJECT", key, "reader", bytes_sent=10 * MIB)
    rows = recommend(con)
    stored, read = 0.9765625, 0.48828125  # GB: 100 and 50 objects of 10 MiB
    # Standard-IA: $0.01/GB read and 50 GETs at $0.001 instead of $0.0004 per 1000
    ia = rows[("reader", "STANDARD_IA")]
    assert float(ia["retrieval_usd"]) == usd(read * 0.01 + 50 * (0.001 - 0.0004) / 1000)
    assert float(ia["monthly_saving_usd"]) == usd(stored * 0.0105 - read * 0.01 - 50 * 0.0006 / 1000)
    # Glacier IR: $0.03/GB and $0.01 per 1000 GETs
    gir = rows[("reader", "GLACIER_IR")]
    assert float(gir["retrieval_usd"]) == usd(read * 0.03 + 50 * (0.01 - 0.0004) / 1000)
    # Deep Archive: each object read is restored first: 50 restores × $0.10/1000, 0.48828125 GB × $0.02,
    # and the restored copies one day at the Standard rate
    da = rows[("reader", "DEEP_ARCHIVE")]
    assert float(da["retrieval_usd"]) == usd(50 * 0.10 / 1000 + read * 0.02 + read * STD * 1 / 30)
    assert da["restores"] == 50 and da["reads"] == 50
    # Intelligent-Tiering: no retrieval fee, but the 50 objects read stay at Frequent Access
    it = rows[("reader", "INTELLIGENT_TIERING")]
    assert float(it["retrieval_usd"]) == usd(read * (0.023 - 0.0125))
    assert float(it["monthly_saving_usd"]) == usd(stored * 0.0105 - 100 * 0.0025 / 1000 - read * 0.0105)
    assert ia["cold_bytes"] == 50 * 10 * MIB  # the 50 objects not read in the history


def test_a_history_shorter_than_a_month_is_scaled_to_one(con):
    con.execute("DELETE FROM raw.access_log_requests WHERE usage_date < ?", [DAY - timedelta(days=9)])
    keys = objects(con, "reader", 100, 10 * MIB, 100)
    for key in keys[:10]:
        request(con, DAY, "REST.GET.OBJECT", key, "reader", bytes_sent=10 * MIB)
    row = recommend(con)[("reader", "STANDARD_IA")]
    # 10 days of logs: 10 reads of 10 MiB become 30 a month
    assert row["observed_days"] == 10
    assert float(row["retrieval_usd"]) == usd(3 * (0.09765625 * 0.01 + 10 * 0.0006 / 1000))
    row = recommend(con, rules=savings_rules(min_history_days=14))[("reader", "STANDARD_IA")]
    assert not row["recommended"] and row["reason"].startswith("10 of 14 days of access logs")


def test_the_size_range_leaves_out_what_loses_money(con):
    objects(con, "mixed", 100, 16 * KIB, 200, name="thumb")
    objects(con, "mixed", 100, 50 * MIB, 200, name="video")
    keys = objects(con, "busy", 100, 50 * MIB, 200, name="video")
    objects(con, "busy", 100, MIB, 200, name="photo")
    objects(con, "busy", 100, 50 * MIB, 197, day=DAY - timedelta(days=3), name="video")
    for key in keys:  # every video read three times
        for hour in (9, 12, 18):
            request(
                con, DAY - timedelta(days=3), "REST.GET.OBJECT", key, "busy", bytes_sent=50 * MIB, hour=hour
            )
    rows = recommend(con)
    # Deep Archive: the thumbnails' overhead outweighs them; the videos ([32 MiB, 64 MiB)) move alone
    mixed = rows[("mixed", "DEEP_ARCHIVE")]
    assert (mixed["min_object_bytes"], mixed["max_object_bytes"], mixed["objects"]) == (32 * MIB, None, 100)
    # Glacier IR: the videos are read too much; only the 1 MiB photos ([1 MiB, 2 MiB)) move
    busy = rows[("busy", "GLACIER_IR")]
    assert (busy["min_object_bytes"], busy["max_object_bytes"], busy["objects"]) == (MIB, 2 * MIB, 100)
    rule = json.loads(busy["lifecycle_rule"])["Rules"][0]["Filter"]["And"]
    assert rule == {"Prefix": "users/busy/", "ObjectSizeGreaterThan": MIB - 1, "ObjectSizeLessThan": 2 * MIB}
    assert float(busy["monthly_saving_usd"]) == usd(100 * MIB / GIB * (0.023 - 0.004))


def test_r2_infrequent_access_has_a_retrieval_fee_a_30_day_minimum_and_no_size_filter(con):
    keys = objects(con, "r2user", 100, 10 * MIB, 40)
    objects(con, "r2user", 1, 10 * MIB, 40, day=DAY - timedelta(days=2), name="gone")
    request(
        con,
        DAY - timedelta(days=2),
        "REST.DELETE.OBJECT",
        "users/r2user/gone-00000.jpg",
        "r2user",
        status=204,
    )
    for key in keys[:10]:
        request(con, DAY, "REST.GET.OBJECT", key, "r2user", bytes_sent=10 * MIB)
    (row,) = recommend(con, provider=R2).values()
    # $0.015 → $0.01 per GB-month on 0.9765625 GB; 0.09765625 GB read at $0.01/GB and 10 Class B reads
    # at $0.90 instead of $0.36 per million; the object deleted at 40 days was in IA 10 days: 20 more
    assert row["storage_class"] == "R2_INFREQUENT_ACCESS"
    assert float(row["storage_saving_usd"]) == usd(0.9765625 * (0.015 - 0.01))
    assert float(row["retrieval_usd"]) == usd(0.09765625 * 0.01 + 10 * (0.90 - 0.36) / 1e6)
    assert float(row["early_delete_usd"]) == usd(10 * MIB / GIB * 0.01 * 20 / 30)
    # each transition is one Class A operation, priced at IA's $9.00 per million
    assert float(row["transition_cost_usd"]) == usd(100 * 9.0 / 1e6)
    # R2's lifecycle rules filter by prefix only: the rule is the whole prefix
    assert row["min_object_bytes"] is None and row["max_object_bytes"] is None
    assert json.loads(row["lifecycle_rule"])["Rules"][0] == {
        "ID": "bucketlens-r2_infrequent_access-r2user",
        "Status": "Enabled",
        "Filter": {"Prefix": "users/r2user/"},
        "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
    }


def test_deleted_users_data_is_a_leak_to_delete_not_to_move(con):
    objects(con, "gone", 100, 100 * MIB, 40)
    objects(con, "here", 100, 100 * MIB, 40)
    users(con, [("gone", "deleted"), ("here", "active")])
    rows = recommend(con)
    assert rows[("here", "DEEP_ARCHIVE")]["recommended"] and rows[("here", "DEEP_ARCHIVE")]["best_for_user"]
    gone = rows[("gone", "DEEP_ARCHIVE")]
    assert not gone["recommended"] and "delete the data" in gone["reason"]


def test_the_check_recomputes_every_saving_and_catches_a_wrong_one(con):
    keys = objects(con, "reader", 100, 10 * MIB, 100)
    objects(con, "reader", 100, 10 * MIB, 97, day=DAY - timedelta(days=3))
    for key in keys[:50]:
        request(con, DAY - timedelta(days=3), "REST.GET.OBJECT", key, "reader", bytes_sent=10 * MIB)
    objects(con, "churn", 1000, MIB, 100)
    for key in objects(con, "churn", 10, MIB, 45, day=DAY - timedelta(days=5), name="deleted"):
        request(con, DAY - timedelta(days=5), "REST.DELETE.OBJECT", key, "churn", status=204)
    objects(con, "mid", 1000, 200 * KIB, 40)
    rules, book = savings_rules(), PriceBook.load()
    stage_recommendations(con, "recs", DAY, DAY, rules, book, AWS, KeyPattern())
    con.execute(TABLE_DDL)
    con.execute(f"INSERT INTO {TABLE} BY NAME SELECT * FROM recs")
    params = parameters(DAY, DAY, rules, book, AWS, KeyPattern())
    load_prices(con, book, AWS)
    ((_, checked, wrong, worst, _),) = con.execute(RECOMPUTE_BY_DAY_SQL, recompute_params(params)).fetchall()
    assert (checked, wrong) == (12, 0) and worst < 1e-6
    assert con.execute(RULES_BY_DAY_SQL, rules_params(params)).fetchall() == [(DAY, 0, None)]
    con.execute(f"UPDATE {TABLE} SET monthly_saving_usd = monthly_saving_usd + 0.01 WHERE user_id = 'churn' "
                "AND storage_class = 'GLACIER_IR'")  # fmt: skip
    ((_, _, wrong, _, first),) = con.execute(RECOMPUTE_BY_DAY_SQL, recompute_params(params)).fetchall()
    assert wrong == 1 and first.startswith("user churn GLACIER_IR in photos-prod")
    con.execute(f"UPDATE {TABLE} SET lifecycle_rule = replace(lifecycle_rule, '\"Days\":30', '\"Days\":20') "
                "WHERE user_id = 'mid' AND storage_class = 'STANDARD_IA'")  # fmt: skip
    assert con.execute(RULES_BY_DAY_SQL, rules_params(params)).fetchall() == [
        (DAY, 1, "user mid STANDARD_IA")
    ]
