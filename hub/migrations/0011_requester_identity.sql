-- Who filed an access request, beyond their id and department: their roles and attributes
-- as their token gave them (a JSON object, e.g. {"roles": ["analyst"], "attributes":
-- {"grid_id": "GC-001"}}). A reviewer's dry run reads rows as that principal, so that row
-- filters naming `principal.*` and deny rules on roles apply as they would to the
-- requester. Null for requests filed before.

ALTER TABLE access_requests ADD COLUMN requester_identity TEXT;
