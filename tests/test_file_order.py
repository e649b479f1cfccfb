"""The suite's longest files run first (tests/conftest.py); a renamed or moved file must not silently drop
out of that order and start last."""

from pathlib import Path

from tests.conftest import LONGEST_FILES_FIRST, _file_rank

ROOT = Path(__file__).resolve().parent.parent


def test_every_listed_file_exists_once():
    assert [p for p in LONGEST_FILES_FIRST if not (ROOT / p).is_file()] == []
    assert len(set(LONGEST_FILES_FIRST)) == len(LONGEST_FILES_FIRST)


def test_listed_files_rank_in_their_order_and_the_rest_after_them():
    class Item:
        def __init__(self, nodeid):
            self.nodeid = nodeid

    ranks = [_file_rank(Item(f"{p}::test_x")) for p in LONGEST_FILES_FIRST]
    assert ranks == list(range(len(LONGEST_FILES_FIRST)))
    assert _file_rank(Item("tests/test_keys.py::test_x")) == len(LONGEST_FILES_FIRST)
