-- Undoes expand.sql when the release is rolled back. By then every service runs 1.x again, which
-- never used any of this, so dropping it loses only data written by the rolled-back 2.0.

DROP TABLE IF EXISTS order_events;

ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_currency_not_null;
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_currency_format;
ALTER TABLE orders DROP COLUMN IF EXISTS currency;
