-- What the hubs sharing this store hold in memory, by kind, with a version that goes up with
-- every change of that kind. A hub reads it to learn that another replica (or a command run
-- beside it) changed something, and reads that kind again; on PostgreSQL each change is also
-- announced on the channel `causeway_changes`, its payload the kind.

CREATE TABLE changes (
    kind     TEXT PRIMARY KEY,
    version  BIGINT NOT NULL
);

INSERT INTO changes (kind, version) VALUES ('datasets', 0);
INSERT INTO changes (kind, version) VALUES ('grants', 0);
INSERT INTO changes (kind, version) VALUES ('clients', 0);
INSERT INTO changes (kind, version) VALUES ('alerts', 0);
