-- Contract for prodstack 2.0: remove what only 1.x needed. planrun runs this after every service
-- runs 2.0 (the plan's `after backend worker frontend`), after a verified backup.

-- Validate the checks added NOT VALID in expand.sql. VALIDATE CONSTRAINT scans the table under a
-- SHARE UPDATE EXCLUSIVE lock, which does not block reads or writes.
ALTER TABLE orders VALIDATE CONSTRAINT orders_currency_format;
ALTER TABLE orders VALIDATE CONSTRAINT orders_currency_not_null;
ALTER TABLE order_events VALIDATE CONSTRAINT order_events_order_id_fkey;

-- With a validated `CHECK (currency IS NOT NULL)`, SET NOT NULL skips its own full scan
-- (PostgreSQL 12+), so its ACCESS EXCLUSIVE lock is held only for a moment. The check is then
-- redundant.
ALTER TABLE orders ALTER COLUMN currency SET NOT NULL;
ALTER TABLE orders DROP CONSTRAINT orders_currency_not_null;

-- 1.x kept a free-text status beside the state machine; 2.0 neither reads nor writes it.
-- Dropping a column only marks it dropped in the catalogue: no rewrite.
ALTER TABLE orders DROP COLUMN IF EXISTS legacy_status;
