//! The PostgreSQL and MariaDB servers every machine of this project runs, each test in a
//! schema or database of its own.

/// Whether the tests must have the database servers (in CI they must).
fn databases_required() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// A schema of its own in the machine's PostgreSQL, dropped by `cleanup`.
pub struct Postgres {
    pub client: tokio_postgres::Client,
    pub schema: String,
}

pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

impl Postgres {
    /// Connects, or returns `None` (after saying why) when no server runs outside CI.
    pub async fn connect() -> Option<Postgres> {
        match tokio_postgres::connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test",
            tokio_postgres::NoTls,
        )
        .await
        {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                let schema = format!("cw_{}", uuid::Uuid::new_v4().simple());
                client
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .expect("create schema");
                Some(Postgres { client, schema })
            }
            Err(error) if !databases_required() => {
                eprintln!("skipped: no PostgreSQL at 127.0.0.1:5432 ({error})");
                None
            }
            Err(error) => panic!("PostgreSQL at 127.0.0.1:5432 is required (CI=true): {error}"),
        }
    }

    pub async fn execute(&self, sql: &str) {
        self.client
            .batch_execute(&format!("SET search_path TO {}; {sql}", self.schema))
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
    }

    pub async fn cleanup(self) {
        let _ = self
            .client
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await;
    }
}

/// A database of its own in the machine's MariaDB/MySQL, dropped by `cleanup`.
pub struct Mysql {
    pub pool: mysql_async::Pool,
    pub database: String,
}

pub const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

impl Mysql {
    pub async fn connect() -> Option<Mysql> {
        use mysql_async::prelude::Queryable;
        let pool = mysql_async::Pool::new(MYSQL_URL);
        let database = format!("cw_{}", uuid::Uuid::new_v4().simple());
        let created = async {
            let mut connection = pool.get_conn().await?;
            connection.query_drop(format!("CREATE DATABASE {database}")).await
        }
        .await;
        match created {
            Ok(()) => Some(Mysql { pool, database }),
            Err(error) if !databases_required() => {
                eprintln!("skipped: no MySQL/MariaDB at 127.0.0.1:3306 ({error})");
                None
            }
            Err(error) => panic!("MySQL/MariaDB at 127.0.0.1:3306 is required (CI=true): {error}"),
        }
    }

    pub async fn execute(&self, sql: &str) {
        use mysql_async::prelude::Queryable;
        let mut connection = self.pool.get_conn().await.expect("mysql connection");
        connection
            .query_drop(format!("USE {}", self.database))
            .await
            .expect("use database");
        for statement in sql.split(";\n").filter(|s| !s.trim().is_empty()) {
            connection
                .query_drop(statement)
                .await
                .unwrap_or_else(|error| panic!("{statement}: {error}"));
        }
    }

    pub async fn cleanup(self) {
        use mysql_async::prelude::Queryable;
        if let Ok(mut connection) = self.pool.get_conn().await {
            let _ = connection
                .query_drop(format!("DROP DATABASE {}", self.database))
                .await;
        }
        let _ = self.pool.disconnect().await;
    }
}
