use clap::Args;

use super::{HubArgs, HubClient};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The OAuth2 client to sign in as; its secret comes from CAUSEWAY_CLIENT_SECRET, a
    /// prompt on the terminal, or the first line of standard input when that is no terminal.
    #[arg(long)]
    pub client_id: String,
    #[command(flatten)]
    pub hub: HubArgs,
}

pub async fn run(args: LoginArgs) -> Result<(), Box<dyn std::error::Error>> {
    let secret = match std::env::var("CAUSEWAY_CLIENT_SECRET") {
        Ok(secret) if !secret.is_empty() => secret,
        _ if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            rpassword::prompt_password(format!("Secret of client {}: ", args.client_id))?
        }
        // Piped in (`pass show hub | causeway login ...`): the first line.
        _ => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            if line.trim().is_empty() {
                return Err(
                    "no secret: set CAUSEWAY_CLIENT_SECRET, type it at the prompt, or pipe it in".into(),
                );
            }
            line
        }
    };
    let client = HubClient::new(&args.hub)?;
    let expires_at =
        super::credentials::login(client.http(), client.base(), &args.client_id, secret.trim()).await?;
    let minutes = expires_at.saturating_sub(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default(),
    ) / 60;
    println!(
        "signed in to {} as {}; the token lasts {minutes} minutes and is renewed when it runs out",
        client.base(),
        args.client_id
    );
    Ok(())
}
