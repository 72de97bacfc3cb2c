-- prodstack 1.0's schema and some orders, as they are before the 2.0 release. Run by
-- examples/prodstack/up; does nothing when `orders` exists (a database that has been released
-- keeps its data and its schema).
DO $$
BEGIN
    IF to_regclass('public.orders') IS NULL THEN
        CREATE TABLE orders (
            id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            customer      text NOT NULL,
            amount_cents  integer NOT NULL,
            state         text NOT NULL DEFAULT 'new',
            legacy_status text,
            created_at    timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO orders (customer, amount_cents, state, legacy_status)
        SELECT 'customer-' || n, 100 + n % 9000, (ARRAY['new', 'paid', 'shipped'])[1 + n % 3], 'OPEN'
        FROM generate_series(1, 5000) AS n;
    END IF;
END
$$;
