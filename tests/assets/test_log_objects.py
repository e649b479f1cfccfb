from datetime import date, datetime

from assets.raw.log_objects import delivery_time, log_objects_for_day

KEYS = [
    "access-logs/2026-10-04-23-59-59-AAAA1111BBBB2222",  # day before: cannot hold the 5th's requests
    "access-logs/2026-10-05-00-10-00-0123456789ABCDEF",
    "access-logs/123456789012/us-east-1/photos-prod/2026/10/05/2026-10-05-13-00-00-FEDCBA9876543210",
    "access-logs/2026-10-06-03-00-00-1111222233334444",  # next day, within lateness: read, not own
    "access-logs/2026-10-06-14-00-00-5555666677778888",  # beyond 12 h lateness
    "access-logs/README.txt",
]


def test_delivery_time_in_both_key_formats():
    assert delivery_time(KEYS[1]) == datetime(2026, 10, 5, 0, 10, 0)
    assert delivery_time(KEYS[2]) == datetime(2026, 10, 5, 13, 0, 0)
    assert delivery_time(KEYS[5]) is None
    assert delivery_time("access-logs/2026-13-45-00-00-00-ABCD") is None


def test_reads_the_day_and_the_next_days_early_objects():
    read, own = log_objects_for_day(KEYS, date(2026, 10, 5), lateness_hours=12)
    assert read == [KEYS[1], KEYS[2], KEYS[3]]
    assert own == [KEYS[1], KEYS[2]]
