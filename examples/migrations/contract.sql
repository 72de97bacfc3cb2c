-- Contract: every service runs the new release and every row has a due date, so `due_on`
-- becomes required and the old `terms_days` goes.
-- VALIDATE scans under a SHARE UPDATE EXCLUSIVE lock (reads and writes go on); with the check
-- validated, SET NOT NULL skips its own scan, so the ACCESS EXCLUSIVE lock that follows is brief.
ALTER TABLE invoices VALIDATE CONSTRAINT invoices_due_on_not_null;
ALTER TABLE invoices ALTER COLUMN due_on SET NOT NULL;
ALTER TABLE invoices DROP CONSTRAINT invoices_due_on_not_null;
ALTER TABLE invoices DROP COLUMN IF EXISTS terms_days;
