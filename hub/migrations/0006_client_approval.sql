-- Separation of duties: a credential or role the system administrator hands out through the
-- API is used only once a security administrator approves it. NULL while it waits; accounts
-- made before this release, and those made on the hub's machine, count as approved.

ALTER TABLE clients ADD COLUMN approved_by TEXT;
UPDATE clients SET approved_by = 'earlier release' WHERE approved_by IS NULL;
