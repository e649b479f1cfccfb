"""The benchmarks' clock: CPU seconds count every thread of the process and none of its waiting."""

from __future__ import annotations

import hashlib
import threading
import time

from benchmarks.clock import clock, cores


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_waiting_is_wall_time_not_cpu_time():
    with clock() as took:
        time.sleep(0.3)
    assert took.seconds >= 0.3 and took.cpu_seconds < 0.05


def _hash(data: bytes) -> None:
    hashlib.sha256(data).digest()  # releases the GIL: threads hash in parallel


def test_cpu_time_counts_every_thread_of_the_process():
    data = bytes(100_000_000)
    with clock() as one:
        _hash(data)
    threads = [threading.Thread(target=_hash, args=(data,)) for _ in range(2)]
    with clock() as two:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # the main thread only waited: what was counted is the two threads' work (measured 1.3-2x one
    # thread's CPU, less than 2x when the two share caches), whether or not they ran side by side
    assert 1.2 * one.cpu_seconds <= two.cpu_seconds <= 2.5 * one.cpu_seconds
    assert two.cpu_seconds <= two.seconds * cores() + 0.05


def test_report_names_the_figures_of_a_section():
    with clock() as took:
        _spin(0.05)
    report = took.report("user_daily_storage_")
    assert set(report) == {"user_daily_storage_seconds", "user_daily_storage_cpu_seconds"}
    assert report["user_daily_storage_seconds"] >= 0.05 and report["user_daily_storage_cpu_seconds"] >= 0.04
    assert set(took.report()) == {"seconds", "cpu_seconds"}
