//! What a run needs before it measures: the demo data at the run's scale (with the parcels
//! also as Parquet), benefit payments in PostgreSQL, and the hub's configuration, dataset
//! specs, policies and clients.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use causeway_policies::{AttributeValue, Role};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::prelude::{CsvReadOptions, SessionContext};
use futures::StreamExt;
use serde_json::json;
use serde_norway::{Mapping, Value};

use super::BenchResult;
use causeway_demo_data::{self as generate, GenerateOptions};
use causeway_hub::audit::Action;
use causeway_hub::config::Config;
use causeway_hub::identity::{ClientService, ClientSpec};
use causeway_hub::registry::DatasetSpec;
use causeway_hub::store::MetadataStore;

const RESIDENTS_SPEC: &str = include_str!("../../deploy/demo/datasets/residents.yaml");
const PARCELS_SPEC: &str = include_str!("../../deploy/demo/datasets/parcels.yaml");
const PAYMENTS_SPEC: &str = include_str!("../../deploy/demo/datasets/benefit_payments.yaml");

/// The parcels, converted from the demo's CSV so that the join reads two Parquet files.
pub const PARCELS_PARQUET: &str = "parcels.parquet";
/// Records the scale the data in a directory was generated at, so a rerun can reuse it.
const GENERATED_MARKER: &str = "generated.json";
/// The PostgreSQL connection the hub's configuration names.
const POSTGRES_CONNECTION: &str = "bench_pg";

mod postgres;
pub use postgres::{PostgresTable, SharedStore, drop_payments, load_payments};

/// The purpose every benchmark query states.
pub const PURPOSE: &str = "benchmark";
/// The unrestricted principal: every column of every dataset, unmasked; also publishes.
pub const ADMIN_CLIENT: &str = "bench-admin";
/// The policy analyst: three masked columns and the rows of one town.
pub const ANALYST_CLIENT: &str = "bench-analyst";
pub const ANALYST_TOWN: &str = "Guicheng";
/// Matches records against the residents under verify-only grants, and reads nothing.
pub const VERIFIER_CLIENT: &str = "bench-verifier";
/// The purpose of the verifier's grants.
pub const VERIFY_PURPOSE: &str = "identity-check";
/// Reads what the unrestricted principal reads of the residents, under a distinct-person
/// quota too high to reach.
pub const COUNTED_CLIENT: &str = "bench-counted";
/// Reads what the unrestricted principal reads of the residents, under a daily row quota
/// too high to reach.
pub const ROWS_COUNTED_CLIENT: &str = "bench-rows-counted";

/// The files the workloads read.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Data {
    pub scale: u32,
    pub residents: usize,
    pub parcels: usize,
    pub residents_file: PathBuf,
    pub parcels_file: PathBuf,
}

/// Generates the demo data at `scale` into `dir`, unless it is there already.
pub async fn data(dir: &Path, scale: u32) -> BenchResult<Data> {
    std::fs::create_dir_all(dir)?;
    let dir = dir.canonicalize()?;
    let marker = dir.join(GENERATED_MARKER);
    if let Some(data) = std::fs::read_to_string(&marker)
        .ok()
        .and_then(|text| serde_json::from_str::<Data>(&text).ok())
        .filter(|data| data.scale == scale && data.residents_file.is_file() && data.parcels_file.is_file())
    {
        return Ok(data);
    }
    let progress =
        causeway_hub::cli::terminal::spinner(&format!("generating the demo data at scale {scale}"));
    let options = GenerateOptions {
        dir: dir.clone(),
        scale,
    };
    let generated =
        tokio::task::spawn_blocking(move || generate::generate_files(&options, &|_, _, _| {})).await??;
    progress.set_message("converting the parcels to Parquet");
    let parcels_file = dir.join(PARCELS_PARQUET);
    write_parcels_parquet(&dir.join(generate::PARCELS_FILE), &parcels_file, &dir).await?;
    progress.finish_and_clear();
    let data = Data {
        scale,
        residents: generated.residents,
        parcels: generated.parcels,
        residents_file: dir.join(generate::RESIDENTS_FILE),
        parcels_file,
    };
    std::fs::write(&marker, serde_json::to_string_pretty(&data)?)?;
    Ok(data)
}

/// Reads the parcels CSV with the types of its contract and writes it as Parquet with
/// page statistics, as the residents are.
async fn write_parcels_parquet(csv: &Path, parquet: &Path, data_dir: &Path) -> BenchResult<()> {
    let contract = DatasetSpec::from_yaml(&with_data_dir(PARCELS_SPEC, data_dir))?.contract;
    let mut header = String::new();
    BufReader::new(File::open(csv)?).read_line(&mut header)?;
    let fields = header
        .trim()
        .split(',')
        .map(|name| {
            contract
                .field(name)
                .map(|field| Field::new(name, field.data_type.clone(), field.nullable))
                .ok_or_else(|| format!("the parcels CSV has a column {name} that its contract lacks"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let schema = Schema::new(fields);
    let session = SessionContext::new();
    let path = csv.to_string_lossy();
    session
        .register_csv(
            "parcels",
            path.as_ref(),
            CsvReadOptions::new().schema(&schema).has_header(true),
        )
        .await?;
    let mut batches = session
        .sql("SELECT * FROM parcels")
        .await?
        .execute_stream()
        .await?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .build();
    let mut writer = ArrowWriter::try_new(File::create(parquet)?, batches.schema(), Some(properties))?;
    while let Some(batch) = batches.next().await {
        writer.write(&batch?)?;
    }
    writer.close()?;
    Ok(())
}

fn with_data_dir(template: &str, data_dir: &Path) -> String {
    template.replace("${DEMO_DATA}", &data_dir.to_string_lossy())
}

/// The hub's configuration: state in `hub/`, files readable under `data/`, the policies
/// in `policies/`, and the PostgreSQL connection when the payments were loaded.
pub fn hub_config(audit: bool, postgres: Option<&PostgresTable>) -> String {
    config_with_storage("data_dir = \"hub\"", audit, postgres)
}

/// The configuration of a hub whose metadata store is a schema of PostgreSQL, as replicas
/// share one: its own state (keys, audit chain) in `hub-shared/`, the rest as `hub_config`.
pub fn shared_store_config(store: &SharedStore) -> String {
    config_with_storage(
        &format!(
            "data_dir = \"hub-shared\"\nmetadata_url = \"{}\"",
            store.metadata_url()
        ),
        true,
        None,
    )
}

fn config_with_storage(storage: &str, audit: bool, postgres: Option<&PostgresTable>) -> String {
    let mut config = format!(
        "# Written by `causeway-bench`; the port comes from CAUSEWAY_SERVER__LISTEN.\n\
         [storage]\n{storage}\n\n\
         [connectors]\nfile_roots = [\"data\"]\n\n\
         [policies]\ndir = \"policies\"\n\n\
         # Long enough for a full-scale run.\n[auth]\ntoken_ttl = \"12h\"\n\n\
         # One principal's lookups are measured at up to 32 clients at once.\n\
         [limits]\nmax_concurrent_queries_per_principal = 64\nmax_concurrent_queries = 64\n\n\
         [audit]\nenabled = {audit}\n"
    );
    if let Some(postgres) = postgres {
        config.push_str(&format!(
            "\n[connectors.connections.{POSTGRES_CONNECTION}]\nkind = \"postgres\"\nurl = \"{}\"\ntls = \"disable\"\n",
            postgres.url
        ));
    }
    config
}

/// Names of the datasets a run publishes.
pub const RESIDENTS: &str = "civil_affairs.residents";
pub const PARCELS: &str = "land_registry.parcels";
pub const RESIDENTS_ACCELERATED: &str = "civil_affairs.residents_accelerated";
pub const PARCELS_ACCELERATED: &str = "land_registry.parcels_accelerated";
pub const PAYMENTS: &str = "social_security.benefit_payments";

/// The dataset specs to publish, by dataset: the demo's residents and parcels (as Parquet),
/// their accelerated twins over the same files, and the payments in PostgreSQL.
pub fn dataset_specs(
    data: &Data,
    accelerated: bool,
    postgres: Option<&PostgresTable>,
) -> BenchResult<Vec<(&'static str, String)>> {
    let data_dir = data.residents_file.parent().unwrap_or(Path::new("."));
    let parquet = |path: &Path| {
        Value::Mapping(Mapping::from_iter([
            ("kind".into(), "parquet".into()),
            ("path".into(), path.to_string_lossy().as_ref().into()),
        ]))
    };
    let mut specs = vec![
        (RESIDENTS, spec(RESIDENTS_SPEC, data_dir, None, None, false)?),
        (
            PARCELS,
            spec(
                PARCELS_SPEC,
                data_dir,
                None,
                Some(parquet(&data.parcels_file)),
                false,
            )?,
        ),
    ];
    if accelerated {
        specs.push((
            RESIDENTS_ACCELERATED,
            spec(
                RESIDENTS_SPEC,
                data_dir,
                Some("residents_accelerated"),
                None,
                true,
            )?,
        ));
        specs.push((
            PARCELS_ACCELERATED,
            spec(
                PARCELS_SPEC,
                data_dir,
                Some("parcels_accelerated"),
                Some(parquet(&data.parcels_file)),
                true,
            )?,
        ));
    }
    if let Some(postgres) = postgres {
        let source = Value::Mapping(Mapping::from_iter([
            ("kind".into(), "postgres".into()),
            ("connection".into(), POSTGRES_CONNECTION.into()),
            ("table".into(), postgres.qualified_name().as_str().into()),
        ]));
        specs.push((
            PAYMENTS,
            spec(PAYMENTS_SPEC, data_dir, None, Some(source), false)?,
        ));
    }
    Ok(specs)
}

/// A demo spec, renamed, with another source, or accelerated in memory.
fn spec(
    template: &str,
    data_dir: &Path,
    name: Option<&str>,
    source: Option<Value>,
    accelerated: bool,
) -> BenchResult<String> {
    let mut spec: Mapping = serde_norway::from_str(&with_data_dir(template, data_dir))?;
    if let Some(name) = name {
        spec.get_mut("contract")
            .and_then(Value::as_mapping_mut)
            .ok_or("a demo spec has no contract")?
            .insert("name".into(), name.into());
    }
    if let Some(source) = source {
        spec.insert("source".into(), source);
    }
    if accelerated {
        spec.insert(
            "acceleration".into(),
            Value::Mapping(Mapping::from_iter([("mode".into(), "memory".into())])),
        );
    }
    Ok(serde_norway::to_string(&spec)?)
}

/// The grants: everything unmasked for the admin client; for the analyst, three masked
/// columns of the residents (a partial name, no address, a keyed hash of the household)
/// and the rows of their own town in residents and parcels.
pub fn policies(accelerated: bool, postgres: bool) -> String {
    let mut residents = vec![RESIDENTS];
    let mut parcels = vec![PARCELS];
    if accelerated {
        residents.push(RESIDENTS_ACCELERATED);
        parcels.push(PARCELS_ACCELERATED);
    }
    let mut grants = Vec::new();
    let mut verify_grants = Vec::new();
    let mut grant = |dataset: &str, client: &str, details: &str| {
        let id = format!("{client}-{}", dataset.replace('.', "-"));
        grants.push(format!(
            "  - id: {id}\n    subject: {{ client: {client} }}\n    dataset: {dataset}\n    purposes: [{PURPOSE}]\n{details}"
        ));
    };
    for dataset in &residents {
        grant(
            dataset,
            ADMIN_CLIENT,
            "    unmasked: [id_number, name, birth_date, phone, address]\n",
        );
        grant(
            dataset,
            COUNTED_CLIENT,
            "    unmasked: [id_number, name, birth_date, phone, address]\n    max_subjects_per_day: 1000000000000\n",
        );
        grant(
            dataset,
            ROWS_COUNTED_CLIENT,
            "    unmasked: [id_number, name, birth_date, phone, address]\n    max_rows_per_day: 1000000000000\n",
        );
        let id = format!("{VERIFIER_CLIENT}-{}", dataset.replace('.', "-"));
        verify_grants.push(format!(
            "  - id: {id}\n    subject: {{ client: {VERIFIER_CLIENT} }}\n    dataset: {dataset}\n    purposes: [{VERIFY_PURPOSE}]\n    \
             kind: verify\n    columns: [id_number, name, birth_date]\n    \
             verify: {{ max_attempts_per_subject: 1000000000, max_records_per_day: 1000000000000 }}\n"
        ));
        grant(
            dataset,
            ANALYST_CLIENT,
            "    columns: [id_number, name, gender, birth_date, address, town, grid_id, household_id]\n    \
             unmasked: [id_number, birth_date]\n    \
             masks:\n      name: { kind: partial, first: 1 }\n      address: { kind: null }\n      household_id: { kind: hash }\n    \
             row_filter: town = principal.town\n",
        );
    }
    for dataset in &parcels {
        grant(
            dataset,
            ADMIN_CLIENT,
            "    unmasked: [owner_id_number, address]\n",
        );
        grant(
            dataset,
            ANALYST_CLIENT,
            "    unmasked: [owner_id_number, address]\n    row_filter: town = principal.town\n",
        );
    }
    if postgres {
        grant(PAYMENTS, ADMIN_CLIENT, "    unmasked: [id_number]\n");
    }
    grants.extend(verify_grants);
    format!(
        "# Written by `causeway-bench`: an unrestricted principal, a policy analyst, a verifier and readers under a distinct-person and a daily row quota.\ngrants:\n{}",
        grants.join("")
    )
}

/// The secrets of the run's clients.
pub struct Secrets {
    pub admin: String,
    pub verifier: String,
    pub counted: String,
    pub rows_counted: String,
    /// The secrets of the departments' publishers, by department.
    pub publishers: BTreeMap<String, String>,
    pub analyst: String,
}

/// Creates the run's clients in the hub's metadata store (before the hub starts), and
/// records them in its audit log as `causeway client add` does.
pub async fn create_clients(config_path: &Path) -> BenchResult<Secrets> {
    let config = Config::load(Some(config_path))?;
    std::fs::create_dir_all(config.data_dir())?;
    let clients = ClientService::new(MetadataStore::connect(&config.metadata_url()).await?);
    let create = async |id: &str, department: &str, roles: &[Role], attributes: &[(&str, &str)]| {
        let spec = ClientSpec {
            id: id.to_owned(),
            department: department.to_owned(),
            roles: roles.iter().copied().collect::<BTreeSet<_>>(),
            attributes: attributes
                .iter()
                .map(|(key, value)| ((*key).to_owned(), AttributeValue::One((*value).to_owned())))
                .collect::<BTreeMap<_, _>>(),
            person: None,
        };
        let gate = causeway_hub::cli::admin::operator_gate(
            &config,
            Action::ClientCreated,
            json!({
                "client": spec.id,
                "department": spec.department,
                "roles": spec.roles,
                "attributes": spec.attributes,
            }),
        );
        let (_, secret) = causeway_hub::cli::admin::recorded(gate, async || {
            Ok(clients.create(spec, Some("causeway-bench")).await?)
        })
        .await?;
        Ok::<_, Box<dyn std::error::Error>>(secret)
    };
    // The reader granted everything; publishing is each department's publisher's.
    let admin = create(ADMIN_CLIENT, "bench", &[Role::Analyst], &[]).await?;
    let mut publishers = BTreeMap::new();
    for department in ["civil_affairs", "land_registry", "social_security"] {
        let id = publisher_client(department);
        let secret = create(&id, department, &[Role::Publisher], &[]).await?;
        publishers.insert(department.to_owned(), secret);
    }
    let analyst = create(
        ANALYST_CLIENT,
        "civil_affairs",
        &[Role::Analyst],
        &[("town", ANALYST_TOWN)],
    )
    .await?;
    let verifier = create(VERIFIER_CLIENT, "social_security", &[Role::Analyst], &[]).await?;
    let counted = create(COUNTED_CLIENT, "bench", &[Role::Analyst], &[]).await?;
    let rows_counted = create(ROWS_COUNTED_CLIENT, "bench", &[Role::Analyst], &[]).await?;
    Ok(Secrets {
        admin,
        analyst,
        publishers,
        verifier,
        counted,
        rows_counted,
    })
}

/// The id of the client that publishes a department's datasets.
pub fn publisher_client(department: &str) -> String {
    format!("bench-{}", department.replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_policies::{FilePolicies, Mask};

    fn data() -> Data {
        Data {
            scale: 1,
            residents: 10,
            parcels: 15,
            residents_file: PathBuf::from("/bench/data/residents.parquet"),
            parcels_file: PathBuf::from("/bench/data/parcels.parquet"),
        }
    }

    #[test]
    fn specs_publish_the_parcels_as_parquet_and_the_payments_from_the_run_schema() {
        let postgres = PostgresTable {
            url: "postgres://localhost/test".into(),
            schema: "causeway_bench_1_2".into(),
            rows: 3,
        };
        let specs = dataset_specs(&data(), true, Some(&postgres)).unwrap();
        let names: Vec<&str> = specs.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                RESIDENTS,
                PARCELS,
                RESIDENTS_ACCELERATED,
                PARCELS_ACCELERATED,
                PAYMENTS
            ]
        );
        let parcels = DatasetSpec::from_yaml(&specs[1].1).unwrap();
        assert_eq!(parcels.source.location(), "/bench/data/parcels.parquet");
        assert_eq!(parcels.source.kind(), "parquet");
        let payments = DatasetSpec::from_yaml(&specs[4].1).unwrap();
        assert!(
            payments
                .source
                .location()
                .contains("causeway_bench_1_2.benefit_payments")
        );
        let accelerated: Mapping = serde_norway::from_str(&specs[2].1).unwrap();
        assert_eq!(
            accelerated["contract"]["name"],
            Value::from("residents_accelerated")
        );
        assert_eq!(accelerated["acceleration"]["mode"], Value::from("memory"));
    }

    #[test]
    fn the_analyst_gets_three_masks_and_a_town_filter() {
        let mut files = FilePolicies::default();
        files.add_file("bench.yaml", &policies(true, true)).unwrap();
        let analyst: Vec<_> = files
            .grants
            .iter()
            .map(|located| &located.item)
            .filter(|grant| grant.id.starts_with(ANALYST_CLIENT))
            .collect();
        assert_eq!(analyst.len(), 4);
        let residents = analyst
            .iter()
            .find(|grant| grant.dataset.to_string() == RESIDENTS)
            .unwrap();
        assert_eq!(residents.masks.len(), 3);
        assert_eq!(residents.masks["household_id"], Mask::Hash);
        assert_eq!(residents.row_filter.as_deref(), Some("town = principal.town"));
    }
}
