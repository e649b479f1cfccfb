"""The reports layer: HTML reports with charts, and per-user statements, written under reports_dir."""

from assets.reports.daily_report import daily_report
from assets.reports.monthly_report import monthly_report
from assets.reports.user_statements import user_statements
from assets.reports.weekly_cost_summary import weekly_cost_summary

REPORT_ASSETS = [daily_report, weekly_cost_summary, monthly_report, user_statements]
