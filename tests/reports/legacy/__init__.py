"""A frozen copy of the report pages as they were assembled before the jinja2 templates (bucketlens at
commit eb276e4: ``reports/html.py`` and the page-building half of ``daily``, ``weekly`` and
``monthly``), kept only so ``test_templates_match_the_old_pages`` can render every report both ways
from the same warehouse and compare what a reader sees. Not imported by bucketlens; do not extend it."""
