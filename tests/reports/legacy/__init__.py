"""Frozen copies of how the report pages were made, kept only so the tests can render every report both
ways from the same warehouse and compare what a reader sees (``tests/reports/test_templates.py``,
``tests/reports/test_windows.py``, ``tests/reports/test_charts.py``):

- the pages as assembled before the jinja2 templates (bucketlens at commit eb276e4: ``html``, and the
  page-building half of ``daily``, ``weekly`` and ``monthly``);
- the figures as read before set-based ranges, one query per figure and day (commit 369aad3:
  ``queries``), and the charts as drawn then, a new figure per chart (``charts``).

Not imported by bucketlens; not to be extended. When a page is changed on purpose, this copy and those
comparisons have done their job: delete both."""
