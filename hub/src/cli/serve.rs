use std::path::Path;

use crate::config::Config;
use crate::startup::Hub;

pub async fn run(config_file: Option<&Path>) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::load(config_file)?;
    crate::telemetry::init_logging(config.log.format);
    let mut hub = Hub::build(config).await?;
    hub.config_file = config_file.map(Path::to_path_buf);
    let listener = hub.bind().await?;
    let identity = hub.identity(&listener)?;
    let scheme = if hub.config.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(address = %listener.http.local_addr()?, scheme = %scheme, "causeway is serving");
    hub.serve(listener, identity).await?;
    Ok(())
}
