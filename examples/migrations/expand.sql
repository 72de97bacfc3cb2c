-- Expand: invoices get a due date. Old code keeps writing `terms_days` and never sees `due_on`.
-- This file runs outside a transaction (`transactional #false` in the plan) because
-- CREATE INDEX CONCURRENTLY cannot run inside one.

ALTER TABLE invoices ADD COLUMN IF NOT EXISTS due_on date;

-- Enforced for new rows only (NOT VALID: no scan now); the contract phase validates it.
ALTER TABLE invoices ADD CONSTRAINT invoices_due_on_not_null CHECK (due_on IS NOT NULL) NOT VALID;

-- Builds the index without blocking writes to invoices.
CREATE INDEX CONCURRENTLY IF NOT EXISTS invoices_due_on ON invoices (due_on);
