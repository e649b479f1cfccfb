-- What the alert engine told on-call about each day of $start..$end, most severe first.
SELECT usage_date AS day, rule, severity, subject, state, value, threshold, reason
FROM alerts.alert_events WHERE usage_date BETWEEN $start AND $end
ORDER BY day, {severity_order}, rule, subject
