"""The SQL of the triggers that keep ``metric_totals`` (migration 0008).

Here rather than in the migration alone because a PostgreSQL restore needs the trigger function
again: pg_dump of OneMap's tables carries their triggers but not the function they call
(``PostgisStore.load`` creates it first).
"""

# Rows of one report's numeric metrics with its site's layer; SIGN is +1 or -1.
SQLITE_ROWS = """SELECT s.layer_id, m.key, {sign} * m.value FROM sites s, json_each(NEW.metrics) m
    WHERE s.id = NEW.site_id AND m.type IN ('integer', 'real')"""
SQLITE_UPSERT = """INSERT INTO metric_totals (layer_id, metric, total) {rows}
    ON CONFLICT (layer_id, metric) DO UPDATE SET total = total + excluded.total;"""

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION onemap_metric_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE sign float8;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.review_status = 'rejected' THEN RETURN NULL; END IF;
        sign := 1;
    ELSIF (OLD.review_status = 'rejected') = (NEW.review_status = 'rejected') THEN
        RETURN NULL;
    ELSIF NEW.review_status = 'rejected' THEN
        sign := -1;
    ELSE
        sign := 1;
    END IF;
    -- In key order, so two writers of one layer take the rows' locks in the same order.
    INSERT INTO metric_totals (layer_id, metric, total)
        SELECT s.layer_id, m.key, sign * (m.value::text)::float8
        FROM sites s, json_each(NEW.metrics) m
        WHERE s.id = NEW.site_id AND json_typeof(m.value) = 'number'
        ORDER BY m.key
    ON CONFLICT (layer_id, metric) DO UPDATE SET total = metric_totals.total + excluded.total;
    RETURN NULL;
END $$
"""
