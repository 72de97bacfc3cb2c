-- Expand for prodstack 2.0: add what the new release needs so that 1.x keeps working beside it.
-- Runs in one transaction with planrun's lock_timeout (1s by default): each statement below needs
-- its lock only briefly, and a blocked statement gives up instead of queueing traffic behind it.

-- Orders get a currency. A constant default is stored in the catalogue (PostgreSQL 11+): no table
-- rewrite, and rows written by 1.x, which does not know the column, still get a value.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS currency text DEFAULT 'EUR';

-- Checks that the contract phase will rely on. NOT VALID: enforced for new and updated rows at
-- once, without scanning the existing rows under a lock now.
ALTER TABLE orders
    ADD CONSTRAINT orders_currency_format CHECK (currency ~ '^[A-Z]{3}$') NOT VALID;
ALTER TABLE orders
    ADD CONSTRAINT orders_currency_not_null CHECK (currency IS NOT NULL) NOT VALID;

-- A new table for the event history 2.0 writes. It is new and empty, so a plain index is fine;
-- on an existing table it would have to be CREATE INDEX CONCURRENTLY, outside a transaction.
CREATE TABLE IF NOT EXISTS order_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    bigint NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS order_events_order_id_created_at ON order_events (order_id, created_at);

-- The foreign key is added NOT VALID as well, so orders is not scanned while locked.
ALTER TABLE order_events
    ADD CONSTRAINT order_events_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id) NOT VALID;
