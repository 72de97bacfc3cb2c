-- Undoes expand.sql on rollback: nothing in the old release reads `due_on`.
DROP INDEX CONCURRENTLY IF EXISTS invoices_due_on;
ALTER TABLE invoices DROP CONSTRAINT IF EXISTS invoices_due_on_not_null;
ALTER TABLE invoices DROP COLUMN IF EXISTS due_on;
