-- A security administrator may refuse what an account waits with instead of approving it:
-- the account is then disabled, and who refused it and why are kept with it.

ALTER TABLE clients ADD COLUMN refused_by TEXT;
ALTER TABLE clients ADD COLUMN refusal_reason TEXT;
