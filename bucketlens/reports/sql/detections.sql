-- The anomaly layer's detections of each day of $start..$end in the shape of alert events, for a
-- warehouse built before the alert engine existed.
SELECT * FROM (
    SELECT usage_date AS day, metric AS rule, severity, 'bucket ' || bucket AS subject, 'detected' AS state,
           value, threshold, reason
    FROM anomaly.service_anomalies WHERE usage_date BETWEEN $start AND $end
    UNION ALL
    SELECT usage_date, pattern, severity, 'user ' || user_id, 'detected', value, threshold,
           pattern || ': ' || CASE WHEN threshold >= 1048576  -- a byte threshold (sizes are >= 1 MiB)
               THEN format_bytes(value::BIGINT) || ' (threshold ' || format_bytes(threshold::BIGINT) || ')'
               ELSE round(value, 2) || ' (threshold ' || round(threshold, 2) || ')' END
    FROM anomaly.abuse_flags WHERE usage_date BETWEEN $start AND $end
)
ORDER BY day, {severity_order}, rule, subject
