#!/usr/bin/env python3
"""The DuckDB side of `causeway bench`.

Reads a JSON job on stdin, runs it in an in-process DuckDB and prints JSON timings on stdout:

    job:    {"tables": {"schema.table": "/path/file.parquet", ...}, "memory": bool,
             "join_sql": str, "warmup": int, "runs": int,
             "lookup_sql": str with {id}, "ids": [str], "lookup_warmup": int,
             "lookup_seconds": float}
    result: {"load_seconds": float, "join_seconds": [float], "join_rows": int,
             "lookup_seconds": [float], "lookup_elapsed": float}

With "memory" the Parquet files are loaded into DuckDB tables first; otherwise the tables are
views over the files, read at every query. The harness (hub/src/bench/duckdb.rs) writes this
file out of the binary and runs it with a Python that has the duckdb package.
"""

import json
import sys
import time

import duckdb


def load(connection, tables, memory):
    kind = "TABLE" if memory else "VIEW"
    for name, path in tables.items():
        schema = name.split(".")[0]
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        quoted = path.replace("'", "''")
        connection.execute(f"CREATE {kind} {name} AS SELECT * FROM read_parquet('{quoted}')")


def timed(connection, sql):
    started = time.perf_counter()
    rows = connection.execute(sql).fetchall()
    return time.perf_counter() - started, len(rows)


def main():
    job = json.load(sys.stdin)
    connection = duckdb.connect()
    started = time.perf_counter()
    load(connection, job["tables"], job["memory"])
    load_seconds = time.perf_counter() - started

    for _ in range(job["warmup"]):
        timed(connection, job["join_sql"])
    join_seconds = []
    join_rows = 0
    for _ in range(job["runs"]):
        seconds, join_rows = timed(connection, job["join_sql"])
        join_seconds.append(seconds)

    ids = job["ids"]
    template = job["lookup_sql"]
    for index in range(job["lookup_warmup"]):
        timed(connection, template.replace("{id}", ids[index % len(ids)]))
    lookup_seconds = []
    started = time.perf_counter()
    deadline = started + job["lookup_seconds"]
    index = 0
    while time.perf_counter() < deadline:
        seconds, _ = timed(connection, template.replace("{id}", ids[index % len(ids)]))
        lookup_seconds.append(seconds)
        index += 1
    lookup_elapsed = time.perf_counter() - started

    json.dump(
        {
            "load_seconds": load_seconds,
            "join_seconds": join_seconds,
            "join_rows": join_rows,
            "lookup_seconds": lookup_seconds,
            "lookup_elapsed": lookup_elapsed,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
