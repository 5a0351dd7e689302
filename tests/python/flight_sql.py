"""Arrow Flight SQL as an analyst's notebook uses it, with ADBC's Flight SQL driver:
python flight_sql.py grpc://HOST:PORT TOKEN CLIENT_ID SECRET

Signs in with a bearer token, and once with a client id and secret (the handshake); lists
the tables; runs a cross-department join into pandas and polars; runs a prepared statement
with a parameter; sets a default purpose for a session (SetSessionOptions, kept in a
cookie); and has a query for a purpose no grant serves refused. Prints what it saw
as JSON for the Rust test to check.
"""

import json
import sys

import adbc_driver_flightsql.dbapi as flight_sql
import polars
import pyarrow.flight
from adbc_driver_flightsql import DatabaseOptions

PURPOSE = DatabaseOptions.RPC_CALL_HEADER_PREFIX.value + "x-causeway-purpose"
SESSION_PURPOSE = "adbc.flight.sql.session.option.purpose"


def connect(url, purpose, **auth):
    return flight_sql.connect(url, db_kwargs={PURPOSE: purpose, **auth})


def main():
    url, token, client_id, secret = sys.argv[1:5]
    # More clients, as id and secret pairs, that only sign in.
    others = list(zip(sys.argv[5::2], sys.argv[6::2]))
    bearer = {DatabaseOptions.AUTHORIZATION_HEADER.value: f"Bearer {token}"}
    seen = {}
    with connect(url, "testing", **bearer) as connection:
        objects = connection.adbc_get_objects(depth="tables").read_all().to_pylist()
        seen["tables"] = sorted(
            f"{schema['db_schema_name']}.{table['table_name']}"
            for catalog in objects
            for schema in catalog["catalog_db_schemas"] or []
            for table in schema["db_schema_tables"] or []
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT p.name, h.kind FROM civil_affairs.people p "
                "JOIN land_registry.holdings h ON h.person_id = p.id ORDER BY p.name, h.kind"
            )
            table = cursor.fetch_arrow_table()
            seen["join"] = table.to_pandas().to_dict(orient="records")
            seen["polars_height"] = polars.from_arrow(table).height
            cursor.execute("SELECT name FROM civil_affairs.people WHERE id = $1", parameters=(2,))
            seen["prepared"] = [list(row) for row in cursor.fetchall()]
            # JDBC's and ODBC's `?`, numbered in the order written.
            cursor.execute(
                "SELECT name FROM civil_affairs.people WHERE id > ? AND id < ? ORDER BY id",
                parameters=(1, 4),
            )
            seen["question_marks"] = [list(row) for row in cursor.fetchall()]
    # The handshake: a client id and secret for a token.
    with connect(url, "testing", username=client_id, password=secret) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) AS n FROM civil_affairs.people")
            seen["count_after_handshake"] = cursor.fetchone()[0]
    # The driver sends `authorization: Basic` with its base64 unpadded: every id and secret,
    # whatever their length, signs in.
    seen["signed_in"] = {}
    for other, other_secret in others:
        try:
            with connect(url, "testing", username=other, password=other_secret) as connection:
                connection.adbc_get_table_types()
                seen["signed_in"][other] = "ok"
        except Exception as error:
            seen["signed_in"][other] = f"{type(error).__name__}: {error}"
    # A default purpose for the session instead of a header on every call: the driver sends
    # SetSessionOptions and keeps the session's cookie.
    cookies = {"adbc.flight.sql.rpc.with_cookie_middleware": "true", **bearer}
    with flight_sql.connect(url, db_kwargs=cookies) as connection:
        with connection.cursor() as cursor:
            try:
                cursor.execute("SELECT count(*) AS n FROM civil_affairs.people")
                seen["without_purpose"] = None
            except Exception as error:
                seen["without_purpose"] = f"{type(error).__name__}: {error}"
        connection.adbc_connection.set_options(**{SESSION_PURPOSE: "testing"})
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) AS n FROM civil_affairs.people")
            seen["count_in_session"] = cursor.fetchone()[0]
        seen["session_options"] = json.loads(
            connection.adbc_connection.get_option("adbc.flight.sql.session.options")
        )
    # pyarrow's own Flight client: the handshake answers the bearer header to send.
    client = pyarrow.flight.FlightClient(url)
    header, value = client.authenticate_basic_token(client_id, secret)
    seen["pyarrow_header"] = [header.decode(), value.decode().split(" ")[0]]
    client.close()
    with connect(url, "marketing", **bearer) as connection:
        with connection.cursor() as cursor:
            try:
                cursor.execute("SELECT name FROM civil_affairs.people")
                cursor.fetchall()
                seen["refused"] = None
            except Exception as error:  # the driver's error classes vary by status
                seen["refused"] = f"{type(error).__name__}: {error}"
    print(json.dumps(seen, default=str))


main()
