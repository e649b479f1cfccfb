"""A frozen copy of the report pages as they were assembled before the jinja2 templates (bucketlens at
commit eb276e4: ``reports/html.py`` and the page-building half of ``daily``, ``weekly`` and
``monthly``), kept only so ``tests/reports/test_templates.py`` can render every report both ways from the
same warehouse and compare what a reader sees. Not imported by bucketlens; not to be extended. When a
page is changed on purpose, this copy and that comparison have done their job: delete both."""
