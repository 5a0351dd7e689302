//! `causeway demo`: the departments of one district, generated deterministically, written
//! to the kinds of sources they would really live in, published and served.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use causeway_policies::{AttributeValue, DatasetId, Principal, Role};

use crate::access::requests::RequestTerms;
use crate::audit::{Action, AuditLog, Event, Gate, Outcome};
use crate::config::Config;
use crate::identity::{ClientSpec, Identity, PersonSpec};
use crate::registry::DatasetSpec;
use crate::startup::Hub;
use causeway_demo_data::{self as generate, DatabaseTable, GenerateOptions};

mod accounts;
mod stories;
use accounts::DEMO_CLIENTS;
use stories::{client_list, print_database_stories, print_footer, print_instructions};

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Size: 1 is 10,000 residents and about 15,000 parcels; 100 is a million residents.
    #[arg(long, default_value_t = 1)]
    pub scale: u32,
    /// Where the demo's data, dataset specs, configuration and hub state go.
    #[arg(long, default_value = "causeway-demo")]
    pub dir: PathBuf,
    /// Where the hub listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Where the hub serves Arrow Flight SQL (ADBC, pyarrow, JDBC).
    #[arg(long, default_value = "127.0.0.1:8815")]
    pub flight_listen: std::net::SocketAddr,
    /// Where the hub serves the PostgreSQL wire protocol (psql, JDBC, BI tools); beside a
    /// PostgreSQL server's 5432.
    #[arg(long, default_value = "127.0.0.1:5433")]
    pub postgres_listen: std::net::SocketAddr,
    /// Also load datasets into PostgreSQL and MySQL/MariaDB and publish them from there.
    #[arg(long)]
    pub with_databases: bool,
    /// The PostgreSQL server that gets the benefit payments (with --with-databases).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres_url: String,
    /// The MySQL or MariaDB server that gets the inspections (with --with-databases).
    #[arg(long, default_value = "mysql://root@127.0.0.1:3306/test")]
    pub mysql_url: String,
    /// Write the data, specs and configuration, publish, and stop without serving.
    #[arg(long)]
    pub generate_only: bool,
}

/// The schema (PostgreSQL) and database (MySQL) the demo's tables go in.
const DEMO_SCHEMA: &str = "causeway_demo";

/// The question the demo asks first: which residents of Guicheng own more than two parcels.
pub const DEMO_QUESTION: &str = "SELECT r.name, r.id_number, r.grid_id, count(*) AS parcels, sum(p.area_m2) AS total_area_m2 \
FROM civil_affairs.residents r JOIN land_registry.parcels p ON p.owner_id_number = r.id_number \
WHERE r.town = 'Guicheng' GROUP BY r.name, r.id_number, r.grid_id HAVING count(*) > 2 \
ORDER BY parcels DESC, r.id_number";

const FILE_SPECS: [(&str, &str); 4] = [
    (
        "residents.yaml",
        include_str!("../../../deploy/demo/datasets/residents.yaml"),
    ),
    (
        "parcels.yaml",
        include_str!("../../../deploy/demo/datasets/parcels.yaml"),
    ),
    (
        "enrolments.yaml",
        include_str!("../../../deploy/demo/datasets/enrolments.yaml"),
    ),
    (
        "enterprises.yaml",
        include_str!("../../../deploy/demo/datasets/enterprises.yaml"),
    ),
];

/// The demo's grants, deny rules and automatic-approval conditions.
const POLICIES: &str = include_str!("../../../deploy/demo/policies/demo.yaml");
/// The agreements for the database sources, written only with `--with-databases`.
const DATABASE_POLICIES: &str = include_str!("../../../deploy/demo/policies/databases.yaml");

const DATABASE_SPECS: [(&str, &str); 2] = [
    (
        "benefit_payments.yaml",
        include_str!("../../../deploy/demo/datasets/benefit_payments.yaml"),
    ),
    (
        "inspections.yaml",
        include_str!("../../../deploy/demo/datasets/inspections.yaml"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error(transparent)]
    Generate(#[from] generate::GenerateError),
    #[error("cannot load the demo tables into {database}: {message}")]
    Database { database: &'static str, message: String },
    #[error("the demo dataset {file} is invalid: {message}")]
    Spec { file: &'static str, message: String },
}

pub async fn run(args: DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    crate::telemetry::init_logging(crate::telemetry::LogFormat::Text);
    let dir = absolute(&args.dir)?;
    let data = dir.join("data");
    let options = GenerateOptions {
        dir: data.clone(),
        scale: args.scale.max(1),
    };
    let generated = {
        let options = GenerateOptions {
            dir: options.dir.clone(),
            scale: options.scale,
        };
        tokio::task::spawn_blocking(move || {
            let bar = progress_bar();
            let result = generate::generate_files(&options, &|what, done, total| {
                bar.set_length(total);
                bar.set_position(done);
                bar.set_message(what.to_owned());
            });
            bar.finish_and_clear();
            result
        })
        .await??
    };
    let mut specs: Vec<(&str, &str)> = FILE_SPECS.to_vec();
    let database_rows = if args.with_databases {
        specs.extend(DATABASE_SPECS);
        Some(load_databases(&args, &options).await?)
    } else {
        None
    };

    let config_path = dir.join("causeway.toml");
    write(&config_path, &demo_config(&args))?;
    let policies_dir = dir.join("policies");
    std::fs::create_dir_all(&policies_dir).map_err(|source| DemoError::Write {
        path: policies_dir.display().to_string(),
        source,
    })?;
    write(&policies_dir.join("demo.yaml"), POLICIES)?;
    let database_policies = policies_dir.join("databases.yaml");
    if args.with_databases {
        write(&database_policies, DATABASE_POLICIES)?;
    } else if database_policies.exists() {
        // Left by an earlier run with the databases: its datasets are not published now.
        std::fs::remove_file(&database_policies).map_err(|source| DemoError::Write {
            path: database_policies.display().to_string(),
            source,
        })?;
    }
    let specs_dir = dir.join("datasets");
    std::fs::create_dir_all(&specs_dir).map_err(|source| DemoError::Write {
        path: specs_dir.display().to_string(),
        source,
    })?;
    let mut parsed = Vec::new();
    for (file, template) in specs {
        let text = template.replace("${DEMO_DATA}", &data.to_string_lossy());
        write(&specs_dir.join(file), &text)?;
        let spec = DatasetSpec::from_yaml(&text).map_err(|error| DemoError::Spec {
            file,
            message: error.to_string(),
        })?;
        parsed.push(spec);
    }

    // The demo starts from a clean hub each time: its metadata is rebuilt from the specs.
    let metadata = dir.join("metadata.db");
    if metadata.exists() {
        std::fs::remove_file(&metadata).map_err(|source| DemoError::Write {
            path: metadata.display().to_string(),
            source,
        })?;
    }
    let config = Config::load(Some(&config_path))?;
    let hub = Hub::build(config).await?;
    let progress = crate::cli::terminal::spinner("publishing the demo datasets");
    let mut published = Vec::new();
    for spec in parsed {
        let table = format!(
            "{}.{} ({})",
            spec.contract.department,
            spec.contract.name,
            spec.source.kind()
        );
        // Each dataset is published as its own department's publisher would.
        let operator =
            Principal::new("causeway-demo", spec.contract.department.clone()).with_role(Role::Publisher);
        let record = Event::by(Action::DatasetPublished, Outcome::Ok, &operator)
            .on_dataset(format!("{}.{}", spec.contract.department, spec.contract.name));
        let mut gate = Gate::new(&hub.audit, record);
        hub.registry.publish(&operator, spec, &mut gate).await?;
        gate.close(None).await?;
        published.push(table);
    }
    progress.finish_and_clear();
    // The policy files were read before the datasets existed; check them against them now.
    crate::startup::load_policies(&policies_dir, &hub.access, &hub.engine, &hub.audit)
        .await
        .map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })?;

    println!(
        "Generated {} residents, {} parcels, {} enrolments and {} enterprises in {}",
        generated.residents,
        generated.parcels,
        generated.enrolments,
        generated.enterprises,
        data.display()
    );
    if let Some((payments, inspections)) = database_rows {
        println!(
            "Loaded {payments} benefit payments into PostgreSQL and {inspections} inspections into MySQL"
        );
    }
    println!(
        "Published {} datasets:\n  {}",
        published.len(),
        published.join("\n  ")
    );
    if args.generate_only {
        // The clients are made now, so that the hub served later has them.
        let url = hub.config.public_url(hub.config.server.listen);
        let identity = Identity::new(&hub.config, &url, hub.store.clone())?;
        let (clients, _, _) = demo_clients(&identity, &hub.audit).await?;
        write_secrets(&dir, &clients)?;
        let request = pending_request(&hub).await?;
        println!(
            "\nIts OAuth2 clients (their secrets are also in {}/secrets.env, for the demo only):\n{}\n\n\
             The planner's request {request} waits for the owner's and a security administrator's decisions.\n\n\
             Serve them with: causeway serve --config {}\n\
             then sign in with: CAUSEWAY_CLIENT_SECRET=<a secret above> causeway login --hub {url} --client-id <its client>",
            dir.display(),
            client_list(&clients).join("\n"),
            config_path.display()
        );
        return Ok(());
    }
    let listener = hub.bind().await?;
    let identity = hub.identity(&listener)?;
    let url = hub.config.public_url(listener.http.local_addr()?);
    let (clients, token, minutes) = demo_clients(&identity, &hub.audit).await?;
    write_secrets(&dir, &clients)?;
    let request = pending_request(&hub).await?;
    print_instructions(&url, &config_path, &clients, &token, minutes, &request);
    if args.with_databases {
        print_database_stories(&url, &clients);
    }
    print_footer(
        &url,
        listener.flight_address().unwrap_or(args.flight_listen),
        listener.postgres_address().unwrap_or(args.postgres_listen),
    );
    hub.serve(listener, identity).await?;
    Ok(())
}

/// A client the demo creates, with its secret.
struct DemoClient {
    id: &'static str,
    about: &'static str,
    secret: String,
}

/// The purpose the demo question is asked for.
const DEMO_PURPOSE: &str = "housing-subsidy-review";

/// The demo's clients, and a token for the first, the housing subsidy reviewer, with its
/// lifetime in minutes.
async fn demo_clients(
    identity: &Identity,
    audit: &AuditLog,
) -> Result<(Vec<DemoClient>, String, u64), Box<dyn std::error::Error>> {
    let issuer = identity.issuer().ok_or("the demo needs the built-in issuer")?;
    let mut created = Vec::new();
    let mut token = None;
    for client in &DEMO_CLIENTS {
        let spec = ClientSpec {
            id: client.id.to_owned(),
            department: client.department.to_owned(),
            roles: client.roles.iter().copied().collect(),
            attributes: client
                .attributes
                .iter()
                .map(|(name, value)| ((*name).to_owned(), AttributeValue::One((*value).to_owned())))
                .collect(),
            // A person's password is generated and shown like a secret.
            person: client.person.map(|name| PersonSpec {
                name: name.to_owned(),
                password: None,
            }),
        };
        let event = Event::new(Action::ClientCreated, Outcome::Ok).with_detail(serde_json::json!({
            "client": spec.id,
            "department": spec.department,
            "roles": spec.roles,
            "attributes": spec.attributes,
        }));
        // On disk before the client exists.
        audit.record(event).await?;
        let (record, secret) = identity.clients.create(spec, Some("causeway-demo")).await?;
        if token.is_none() {
            token = Some(issuer.issue(&record)?);
        }
        created.push(DemoClient {
            id: client.id,
            about: client.about,
            secret,
        });
    }
    let token = token.ok_or("no demo token")?;
    Ok((created, token.token, token.expires_in / 60))
}

/// A request of the planner for social insurance data, waiting for its owner's and a
/// security administrator's decisions.
async fn pending_request(hub: &Hub) -> Result<String, Box<dyn std::error::Error>> {
    let planner = Principal::new("demo-planner", "urban_planning").with_role(Role::Analyst);
    let id = DatasetId::new("social_security", "enrolments");
    let dataset = hub
        .engine
        .dataset(&id)
        .ok_or("the enrolments are not published")?;
    let published = hub.registry.get(&id.department, &id.name).await?.record.access;
    let conditions = hub.access.conditions(&id, published);
    let terms = RequestTerms {
        kind: causeway_policies::GrantKind::Read,
        columns: vec!["scheme".into(), "monthly_contribution".into(), "status".into()],
        purpose: "urban-planning".into(),
        justification: "pension coverage by town for the 2027 district plan".into(),
        days: 60,
        unmasked: Vec::new(),
        masks: Default::default(),
        verify: None,
    };
    let record = Event::by(Action::RequestCreated, Outcome::Ok, &planner).on_dataset(&id);
    let mut gate = Gate::new(&hub.audit, record);
    let request = hub
        .access
        .request(
            &planner,
            &dataset,
            &conditions,
            terms,
            &hub.engine.session(),
            &mut gate,
        )
        .await?;
    gate.close(None).await?;
    Ok(request.id)
}

fn demo_config(args: &DemoArgs) -> String {
    let mut config = format!(
        "# Written by `causeway demo`.\n[server]\nlisten = \"{}\"\nflight_listen = \"{}\"\npostgres_listen = \"{}\"\n\n[storage]\ndata_dir = \".\"\n\n[policies]\ndir = \"policies\"\n\n\
         # Watched on the supervision page: much personal data read within an hour.\n\
         [[alerts.rules]]\nname = \"bulk-personal-data\"\n\
         when = {{ kind = \"classified_rows\", classification = \"pii.*\", threshold = 2000, window = \"1h\" }}\n",
        args.listen, args.flight_listen, args.postgres_listen
    );
    if args.with_databases {
        config.push_str(&format!(
            "\n[connectors.connections.social_security_db]\nkind = \"postgres\"\nurl = \"{}\"\ntls = \"disable\"\n\
             \n[connectors.connections.market_supervision_db]\nkind = \"mysql\"\nurl = \"{}\"\ntls = \"disabled\"\n",
            args.postgres_url, args.mysql_url
        ));
    }
    config
}

/// Loads the database tables; returns their row counts.
async fn load_databases(args: &DemoArgs, options: &GenerateOptions) -> Result<(usize, usize), DemoError> {
    let progress = crate::cli::terminal::spinner("loading PostgreSQL and MySQL");
    let payments = generate::benefit_payments_sql(options)?;
    load_postgres(&args.postgres_url, DEMO_SCHEMA, &payments).await?;
    let inspections = generate::inspections_sql(options)?;
    load_mysql(&args.mysql_url, &inspections).await?;
    progress.finish_and_clear();
    Ok((payments.rows, inspections.rows))
}

/// Loads `table` into `schema` (created if missing) of the PostgreSQL database at `url`.
pub async fn load_postgres(url: &str, schema: &str, table: &DatabaseTable) -> Result<(), DemoError> {
    use sqlx::Connection;
    let error = |error: sqlx::Error| DemoError::Database {
        database: "PostgreSQL",
        message: error.to_string(),
    };
    let mut connection = sqlx::PgConnection::connect(url).await.map_err(error)?;
    let mut statements = vec![
        format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
        format!("SET search_path TO {schema}"),
    ];
    statements.extend(table.setup.iter().cloned());
    statements.extend(table.insert_batches.iter().cloned());
    statements.push("ANALYZE benefit_payments".into());
    for statement in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut connection)
            .await
            .map_err(error)?;
    }
    Ok(())
}

async fn load_mysql(url: &str, table: &DatabaseTable) -> Result<(), DemoError> {
    use mysql_async::prelude::Queryable;
    let error = |error: mysql_async::Error| DemoError::Database {
        database: "MySQL",
        message: error.to_string(),
    };
    let options = mysql_async::Opts::from_url(url).map_err(|e| error(e.into()))?;
    let mut connection = mysql_async::Conn::new(options).await.map_err(error)?;
    let mut statements = vec![
        format!("CREATE DATABASE IF NOT EXISTS {DEMO_SCHEMA}"),
        format!("USE {DEMO_SCHEMA}"),
    ];
    statements.extend(table.setup.iter().cloned());
    statements.extend(table.insert_batches.iter().cloned());
    statements.push("ANALYZE TABLE inspections".into());
    for statement in statements {
        connection.query_drop(statement).await.map_err(error)?;
    }
    connection.disconnect().await.map_err(error)?;
    Ok(())
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    if let Ok(style) = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn absolute(path: &Path) -> Result<PathBuf, DemoError> {
    std::fs::create_dir_all(path).map_err(|source| DemoError::Write {
        path: path.display().to_string(),
        source,
    })?;
    path.canonicalize().map_err(|source| DemoError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// The demo clients' secrets as shell variables (`DEMO_ANALYST_SECRET=...`) in
/// `DIR/secrets.env`, readable by its owner only, so that the README's walk-through can sign in
/// with `. causeway-demo/secrets.env`. Only the demo does this: other clients' secrets are
/// shown once and kept nowhere.
fn write_secrets(dir: &Path, clients: &[DemoClient]) -> Result<(), DemoError> {
    let text: String = clients
        .iter()
        .map(|client| {
            format!(
                "{}_SECRET='{}'\n",
                client.id.to_uppercase().replace('-', "_"),
                client.secret
            )
        })
        .collect();
    let path = dir.join("secrets.env");
    let failed = |source| DemoError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(&failed)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(&failed)
}

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(|source| DemoError::Write {
        path: path.display().to_string(),
        source,
    })
}
