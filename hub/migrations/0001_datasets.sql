-- Departments, their datasets and every version of each dataset's contract.
-- Written in the SQL that SQLite and PostgreSQL share: times are RFC 3339 text,
-- documents are JSON text, flags are 0/1 integers.

CREATE TABLE departments (
    name        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

CREATE TABLE datasets (
    department       TEXT NOT NULL REFERENCES departments (name),
    name             TEXT NOT NULL,
    source           TEXT NOT NULL,
    current_version  BIGINT NOT NULL,
    published_by     TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (department, name)
);

CREATE TABLE contract_versions (
    department  TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    contract    TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    forced      BIGINT NOT NULL,
    PRIMARY KEY (department, name, version)
);
