use std::path::Path;

use crate::config::Config;
use crate::startup::Hub;

pub async fn run(config: Option<&Path>) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(config)?;
    crate::telemetry::init_logging(config.log.format);
    let hub = Hub::build(config).await?;
    let listener = hub.bind().await?;
    let identity = hub.identity(&listener)?;
    let scheme = if hub.config.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(address = %listener.local_addr()?, scheme = %scheme, "causeway is serving");
    hub.serve(listener, identity).await?;
    Ok(())
}
