-- Migrate: fill `due_on` for existing invoices in batches of 5,000 rows, each committed on its
-- own, so no lock is held for long and replicas keep up. The new release already writes `due_on`
-- for new invoices.
DO $$
DECLARE
    updated integer;
BEGIN
    LOOP
        UPDATE invoices
           SET due_on = issued_on + terms_days
         WHERE id IN (SELECT id FROM invoices WHERE due_on IS NULL LIMIT 5000 FOR UPDATE SKIP LOCKED);
        GET DIAGNOSTICS updated = ROW_COUNT;
        EXIT WHEN updated = 0;
        COMMIT;
    END LOOP;
END
$$;
