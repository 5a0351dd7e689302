use std::path::Path;

use crate::config::Config;
use crate::startup::Hub;

pub async fn run(config: Option<&Path>) -> Result<(), Box<dyn std::error::Error>> {
    super::init_logging();
    let config = Config::load(config)?;
    let hub = Hub::build(config).await?;
    let listener = hub.bind().await?;
    tracing::info!(address = %listener.local_addr()?, "causeway is serving");
    hub.serve(listener).await?;
    Ok(())
}
