"""The reports layer's pure core: SQL for each report's figures, charts, self-contained HTML pages (jinja2
templates in ``templates/``) and per-user statements. Assets (``assets/reports``) only open the warehouse,
call these and write files."""
