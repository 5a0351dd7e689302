"""The PostgreSQL wire protocol as a Python analyst uses it, with psycopg 3 and pandas:
python postgres_wire.py HOST PORT CLIENT_ID SECRET

Connects with the purpose as a startup option, runs a parameterised query (psycopg binds it
server-side, through the extended protocol), reads a cross-department join into pandas,
lists schemas, tables and columns with SQLAlchemy's inspector and reads through an
SQLAlchemy engine, and has a query for a purpose no grant serves refused. Prints what it saw as JSON for the Rust
test to check.
"""

import json
import sys
import warnings

import pandas
import psycopg
import sqlalchemy


def main():
    host, port, client_id, secret = sys.argv[1:5]
    settings = dict(host=host, port=int(port), user=client_id, password=secret, dbname="causeway")
    seen = {}
    with psycopg.connect(**settings, options="-c causeway.purpose=testing") as connection:
        cursor = connection.execute(
            "SELECT name, amount FROM civil_affairs.people WHERE id = %s", (2,)
        )
        rows = cursor.fetchall()
        seen["parameterised"] = [[name, str(amount)] for name, amount in rows]
        # The decimal(10,2) column's precision and scale, from its type modifier.
        amount = cursor.description[1]
        seen["amount_described"] = [amount.type_code, amount.precision, amount.scale]
        # pandas warns that it was written for SQLAlchemy connections; it reads DBAPI ones.
        warnings.simplefilter("ignore", UserWarning)
        frame = pandas.read_sql(
            "SELECT p.name, h.kind FROM civil_affairs.people p "
            "JOIN land_registry.holdings h ON h.person_id = p.id ORDER BY p.name, h.kind",
            connection,
        )
        seen["join"] = frame.to_dict(orient="records")
        # Decimals past rust_decimal's 28 digits and past 38 (a Decimal256), in psycopg's
        # binary format and in text, as exact Decimals.
        wide = (
            "SELECT CAST('123456789012345678901234567890123456.78' AS DECIMAL(38, 2)) AS d38, "
            "CAST('-1234567890123456789012345678901234567890.5' AS DECIMAL(50, 1)) AS d50, "
            "CAST('0.0000000000000000000000000000001' AS DECIMAL(38, 31)) AS tiny, "
            "amount FROM civil_affairs.people WHERE id = 2"
        )
        for binary in (True, False):
            with connection.cursor(binary=binary) as cursor:
                row = cursor.execute(wide).fetchone()
                seen["wide_binary" if binary else "wide_text"] = [str(value) for value in row]
    engine = sqlalchemy.create_engine(
        sqlalchemy.URL.create(
            "postgresql+psycopg", username=client_id, password=secret,
            host=host, port=int(port), database="causeway",
        ),
        connect_args={"options": "-c causeway.purpose=testing"},
    )
    inspector = sqlalchemy.inspect(engine)
    seen["schemas"] = inspector.get_schema_names()
    seen["tables"] = inspector.get_table_names(schema="civil_affairs")
    seen["columns"] = [
        [column["name"], str(column["type"])]
        for column in inspector.get_columns("people", schema="civil_affairs")
    ]
    with engine.connect() as connection:
        frame = pandas.read_sql(
            sqlalchemy.text("SELECT count(*) AS people FROM civil_affairs.people"), connection
        )
        seen["sqlalchemy_count"] = int(frame["people"][0])
    engine.dispose()
    with psycopg.connect(**settings, options="-c causeway.purpose=marketing") as connection:
        try:
            connection.execute("SELECT name FROM civil_affairs.people").fetchall()
            seen["refused"] = None
        except psycopg.Error as error:
            seen["refused"] = error.sqlstate
    print(json.dumps(seen))


main()
