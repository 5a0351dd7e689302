-- Why a grant was revoked and why an alert was cleared, as the officer said (optional): kept
-- beside who did it and when, and shown with them.

ALTER TABLE grants ADD COLUMN revoked_reason TEXT;
ALTER TABLE alerts ADD COLUMN cleared_reason TEXT;
