"""The anomaly scores' two ways of finding each scored day's history — a framed list window over every
grid row (long windows) and a join of each scored user-day with its $window days (short windows, the
daily run) — give the same rows: over a window, day by day, with every kind of baseline and history shape.

Why a generated population: the two differ in how each scored day finds its $window days, so the cases
that matter are the history's shapes — gaps (absent days), zeros, a growth with no storage the day before, bursts, users new in the
window (cohort and 'none' baselines), weekday rhythms — over enough users that each occurs many times.
"""

import dataclasses
from datetime import date, timedelta

import duckdb
import pytest

from bucketlens.anomaly.rules import load_rules
from bucketlens.anomaly.scores import JOIN_MAX_DAYS, parameters, scores_sql, stage_user_anomaly_scores_window
from bucketlens.anomaly.sources import DEFAULT_SOURCES
from tests.anomaly.test_detectors import SCHEMA

FIRST = date(2026, 9, 1)
DAYS = 60
START, END = date(2026, 10, 10), date(2026, 10, 30)

POPULATION = """
CREATE TEMP TABLE people AS
SELECT 'u' || i AS user_id, i,
       CASE WHEN i % 3 = 0 THEN 'family' ELSE 'personal' END AS plan,
       -- a fifth of the users appear during the scored window (short history: cohort or no baseline)
       CASE WHEN i % 5 = 0 THEN DATE '2026-10-05' + (i % 20)::INTEGER ELSE DATE '2026-06-01' END AS joined
FROM range(120) t(i);
CREATE TEMP TABLE calendar AS
SELECT (DATE '{first}' + d::INTEGER) AS day, d FROM range({days}) t(d);
INSERT INTO raw.users
SELECT c.day, p.user_id, p.plan, 53687091200, p.joined::TIMESTAMP, 'active'
FROM people p, calendar c WHERE c.day >= p.joined AND c.d % 7 = 0;
-- stored bytes: absent on some days (gaps), flat for some users, growing for others, a burst now and then
INSERT INTO usage.user_daily_storage
SELECT c.day, p.user_id, 'STANDARD',
       CASE WHEN p.i % 4 = 0 THEN 1000000 ELSE 1000000 + c.d * (p.i * 1000) END
         + CASE WHEN hash(p.i, c.d) % 29 = 0 THEN 80000000000 ELSE 0 END,
       CASE WHEN hash(p.i, c.d, 1) % 3 = 0 THEN 0 ELSE (hash(p.i, c.d, 2) % 5000000)::BIGINT END
FROM people p, calendar c
WHERE c.day >= p.joined AND hash(p.i, c.d, 3) % 11 <> 0;
-- requests: weekday rhythm (more on weekends), absent on other days than the storage's gaps, errors
INSERT INTO usage.user_daily_requests
SELECT c.day, p.user_id, op.operation, st.status_class,
       (1 + hash(p.i, c.d, op.operation) % 40 + CASE WHEN dayofweek(c.day) IN (0, 6) THEN 200 ELSE 0 END
          + CASE WHEN hash(p.i, c.d, 4) % 31 = 0 THEN 5000 ELSE 0 END)::BIGINT,
       (hash(p.i, c.d, 5) % 90000000)::BIGINT
FROM people p, calendar c,
     (VALUES ('REST.GET.OBJECT'), ('REST.PUT.OBJECT'), ('REST.HEAD.OBJECT')) op(operation),
     (VALUES ('2xx'), ('4xx')) st(status_class)
WHERE c.day >= p.joined AND hash(p.i, c.d, 6) % 7 <> 0 AND (st.status_class = '2xx' OR p.i % 6 = 0);
INSERT INTO cost.user_daily_cost
SELECT c.day, p.user_id, 'storage', (hash(p.i, c.d, 7) % 100000)::DECIMAL(18, 6) / 1000000, false
FROM people p, calendar c WHERE c.day >= p.joined AND hash(p.i, c.d, 8) % 5 <> 0;
"""


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    c.execute("SET enable_progress_bar = false")
    c.execute(SCHEMA)
    c.execute(POPULATION.format(first=FIRST.isoformat(), days=DAYS))
    yield c
    c.close()


def _both(con, start: date, end: date, rules) -> tuple[int, int, int]:
    """Rows of each path's statement, and the rows only one of them has."""
    for path in ("join", "window"):
        sql = scores_sql(DEFAULT_SOURCES, f"{path}_scores", rules.scores.window_days, path=path)
        con.execute(sql, parameters(start, end, rules))
    rows = con.execute("SELECT count(*) FROM join_scores").fetchall()[0][0]
    only_join = con.execute(
        "SELECT count(*) FROM (SELECT * FROM join_scores EXCEPT ALL SELECT * FROM window_scores)"
    ).fetchall()[0][0]
    only_window = con.execute(
        "SELECT count(*) FROM (SELECT * FROM window_scores EXCEPT ALL SELECT * FROM join_scores)"
    ).fetchall()[0][0]
    return rows, only_join, only_window


def test_both_paths_give_the_same_rows_over_a_window(con):
    rules = load_rules()
    rows, only_join, only_window = _both(con, START, END, rules)
    assert (only_join, only_window) == (0, 0)
    assert rows > 15_000
    # every baseline, history shape and outcome occurs, so the equality above covers them
    sources = dict(
        con.execute(
            "SELECT split_part(baseline_source, ':', 1), count(*) FROM join_scores GROUP BY ALL"
        ).fetchall()
    )
    assert {"own", "own_weekday", "cohort", "none"} <= set(sources)
    assert all(n >= 20 for n in sources.values()), sources
    shapes = con.execute(
        """SELECT count(*) FILTER (WHERE is_anomaly), count(*) FILTER (WHERE NOT is_anomaly),
                  count(*) FILTER (WHERE history_days BETWEEN 1 AND 10), count(*) FILTER (WHERE history_days = 0),
                  count(*) FILTER (WHERE metric = 'growth_bytes'), count(*) FILTER (WHERE history_days >= 20)
           FROM join_scores"""
    ).fetchall()[0]
    assert all(n > 0 for n in shapes), shapes


@pytest.mark.parametrize("day", [START, date(2026, 10, 17), END])
def test_both_paths_give_the_same_rows_for_single_days(con, day):
    rows, only_join, only_window = _both(con, day, day, load_rules())
    assert rows > 500
    assert (only_join, only_window) == (0, 0)


def test_a_shorter_history_window_changes_the_frames_the_same_way(con):
    """The window length is a setting: with 10 days (one weekday lag) both still agree, and the history
    counts are bounded by it."""
    rules = load_rules()
    scores = rules.scores.model_copy(
        update={"window_days": 10, "min_history_days": 5, "weekday_min_points": 1}
    )
    short = dataclasses.replace(rules, scores=scores)
    rows, only_join, only_window = _both(con, START, START + timedelta(days=6), short)
    assert (only_join, only_window) == (0, 0)
    assert con.execute("SELECT max(history_days) FROM join_scores").fetchall()[0][0] == 10


def test_the_stage_takes_the_join_for_short_windows_and_the_window_for_long_ones(con):
    """Which path a run takes: the daily run (one day) joins, a backfill frames; both stage the same rows
    as the path the length does not choose (above)."""
    rules = load_rules()
    assert JOIN_MAX_DAYS == 2
    assert "list(history) OVER" in scores_sql(DEFAULT_SOURCES, "x", 28, days=JOIN_MAX_DAYS + 1)
    assert "list(history) OVER" not in scores_sql(DEFAULT_SOURCES, "x", 28, days=JOIN_MAX_DAYS)
    assert "JOIN wide w ON w.uk = s.uk AND w.usage_date BETWEEN" in scores_sql(
        DEFAULT_SOURCES, "x", 28, days=1
    )
    counts = stage_user_anomaly_scores_window(con, START, START, rules, out="staged_day")
    window = scores_sql(DEFAULT_SOURCES, "framed_day", rules.scores.window_days, path="window")
    con.execute(window, parameters(START, START, rules))
    assert counts["rows"] == con.execute("SELECT count(*) FROM framed_day").fetchall()[0][0] > 500
    assert con.execute(
        "SELECT count(*) FROM (SELECT * FROM staged_day EXCEPT ALL SELECT * FROM framed_day)"
    ).fetchall() == [(0,)]
