-- sv_bucket_rates for the days $start .. $end: each bucket's Standard storage rate per day — the price of
-- the sv_tiers tier its Standard bytes fall in (the first tier's when it has none). Staged once as a TEMP
-- table (``bucketlens.savings.prices.stage_with_bucket_rates``) because storage_leaks.sql and
-- storage_recommendations.sql price Standard storage by the same rate.
SELECT b.usage_date, b.bucket,
       coalesce(t.price, (SELECT price FROM sv_tiers ORDER BY from_gb LIMIT 1)) AS standard_rate
FROM (SELECT snapshot_date AS usage_date, bucket,
             coalesce(sum(size) FILTER (WHERE NOT coalesce(is_delete_marker, false)
                                        AND coalesce(storage_class, 'STANDARD') = 'STANDARD'), 0)
                 / 1073741824.0 AS gb
      FROM raw.inventory_objects WHERE snapshot_date BETWEEN $start AND $end GROUP BY ALL) b
LEFT JOIN sv_tiers t ON t.from_gb < b.gb AND (t.up_to_gb IS NULL OR b.gb <= t.up_to_gb)
