-- A role added to an approved account waits for a security administrator, and so does the
-- account's next token. The roles it held approved, and who approved them, are kept beside
-- the change until it is decided, so that refusing the change gives the account back what
-- was approved instead of disabling it. NULL when nothing approved is kept: a new account,
-- or a new secret that waits (the old one has ended, so there is nothing to go back to).

ALTER TABLE clients ADD COLUMN approved_roles TEXT;
ALTER TABLE clients ADD COLUMN approved_roles_by TEXT;
