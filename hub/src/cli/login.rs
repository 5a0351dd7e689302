//! `causeway login`: a service signs in with its client id and secret; a person with
//! `--person`, in their browser at the hub's sign-in page (or their department's provider),
//! the code coming back to this process on a loopback address (RFC 8252 §7.3, with PKCE).

use std::net::Ipv4Addr;
use std::time::Duration;

use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{HubArgs, HubClient, credentials};

/// How long the command waits for the person to sign in.
const SIGN_IN_WAIT: Duration = Duration::from_secs(300);
/// How long one connection to the callback may take to send its request and be answered.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The most bytes of the browser's request read: its request line and headers.
const MOST_REQUEST_BYTES: usize = 16 * 1024;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The OAuth2 client to sign in as; its secret comes from CAUSEWAY_CLIENT_SECRET, a
    /// prompt on the terminal, or the first line of standard input when that is no terminal.
    #[arg(long, required_unless_present = "person", conflicts_with = "person")]
    pub client_id: Option<String>,
    /// Sign in as a person, in a browser: the sign-in page opens (or its address is printed)
    /// and the command waits up to five minutes for it; later commands renew the token with
    /// the refresh token until the sign-in ends.
    #[arg(long)]
    pub person: bool,
    /// With --person: print the sign-in address instead of opening a browser (a remote
    /// terminal: open it on a browser of this computer's, since it comes back to 127.0.0.1).
    #[arg(long, requires = "person")]
    pub no_browser: bool,
    #[command(flatten)]
    pub hub: HubArgs,
}

pub async fn run(args: LoginArgs) -> Result<(), Box<dyn std::error::Error>> {
    let client = HubClient::new(&args.hub)?;
    let (expires_at, who) = match &args.client_id {
        Some(client_id) => {
            let secret = client_secret(client_id)?;
            let expires_at =
                credentials::login(client.http(), client.base(), client_id, secret.trim()).await?;
            (expires_at, client_id.clone())
        }
        None => {
            let expires_at = person(&client, args.no_browser).await?;
            let me: serde_json::Value = client.get("/v1/me").await?;
            (expires_at, me["id"].as_str().unwrap_or("-").to_owned())
        }
    };
    let minutes = expires_at.saturating_sub(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default(),
    ) / 60;
    println!(
        "signed in to {} as {who}; the token lasts {minutes} minutes and is renewed when it runs out",
        client.base(),
    );
    Ok(())
}

/// A service's secret: `CAUSEWAY_CLIENT_SECRET`, the terminal, or standard input's first line.
fn client_secret(client_id: &str) -> Result<String, Box<dyn std::error::Error>> {
    match std::env::var("CAUSEWAY_CLIENT_SECRET") {
        Ok(secret) if !secret.is_empty() => Ok(secret),
        _ if std::io::IsTerminal::is_terminal(&std::io::stdin()) => Ok(rpassword::prompt_password(format!(
            "Secret of client {client_id}: "
        ))?),
        // Piped in (`pass show hub | causeway login ...`): the first line.
        _ => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            if line.trim().is_empty() {
                return Err(
                    "no secret: set CAUSEWAY_CLIENT_SECRET, type it at the prompt, or pipe it in".into(),
                );
            }
            Ok(line)
        }
    }
}

/// Signs a person in through their browser; returns when the token expires.
async fn person(client: &HubClient, no_browser: bool) -> Result<u64, Box<dyn std::error::Error>> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let port = listener.local_addr()?.port();
    let redirect = crate::identity::CLI_CALLBACK.replacen("127.0.0.1", &format!("127.0.0.1:{port}"), 1);
    let sign_in = credentials::start_person_sign_in(client.base(), &redirect)?;
    eprintln!("Sign in to {} at:\n\n  {}\n", client.base(), sign_in.url);
    if !no_browser && open_browser(sign_in.url.as_str()) {
        eprintln!("(opened in your browser; waiting for the sign-in)");
    }
    let code = tokio::time::timeout(SIGN_IN_WAIT, code_from_browser(&listener, sign_in.state.secret()))
        .await
        .map_err(|_| "no sign-in arrived within five minutes: run the command again")??;
    Ok(credentials::finish_person_sign_in(client.http(), client.base(), sign_in, code).await?)
}

/// Opens `url` in the desktop's browser; whether a browser could be started.
fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// Waits for the browser to come back to `/callback` with the sign-in's `state`: its code,
/// or the provider's error. Each connection is served on its own, within
/// [`READ_TIMEOUT`], so that another local program holding one open cannot stall the
/// sign-in; requests for anything else, or with another state (a page elsewhere trying to
/// sign this terminal in), are answered and ignored.
async fn code_from_browser(listener: &TcpListener, state: &str) -> Result<String, String> {
    let (outcomes, mut outcome) = tokio::sync::mpsc::channel(1);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted.map_err(|error| error.to_string())?;
                let (outcomes, state) = (outcomes.clone(), state.to_owned());
                tokio::spawn(async move {
                    if let Ok(Some(ending)) = tokio::time::timeout(READ_TIMEOUT, callback(stream, &state)).await {
                        let _ = outcomes.send(ending).await;
                    }
                });
            }
            Some(ending) = outcome.recv() => return ending,
        }
    }
}

/// Serves one connection: the sign-in's code or error when it is the callback with the
/// right state, `None` otherwise.
async fn callback(mut stream: tokio::net::TcpStream, state: &str) -> Option<Result<String, String>> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 2048];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") && request.len() < MOST_REQUEST_BYTES {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => request.extend_from_slice(&buffer[..read]),
        }
    }
    let head = String::from_utf8_lossy(&request);
    let target = head
        .lines()
        .next()
        .and_then(|first| first.strip_prefix("GET "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_default();
    let parsed = url::Url::parse(&format!("http://127.0.0.1{target}")).ok();
    let Some(parsed) = parsed.filter(|parsed| parsed.path() == "/callback") else {
        answer(&mut stream, "404 Not Found", "Nothing here.").await;
        return None;
    };
    let parameter = |name: &str| {
        parsed
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    if parameter("state").as_deref() != Some(state) {
        answer(
            &mut stream,
            "400 Bad Request",
            "This sign-in was not started by this terminal.",
        )
        .await;
        return None;
    }
    if let Some(error) = parameter("error") {
        let why = parameter("error_description").unwrap_or_else(|| error.clone());
        answer(
            &mut stream,
            "400 Bad Request",
            "The sign-in did not succeed; see the terminal.",
        )
        .await;
        return Some(Err(format!("the sign-in did not succeed: {why}")));
    }
    let Some(code) = parameter("code") else {
        answer(&mut stream, "400 Bad Request", "No code came back.").await;
        return None;
    };
    answer(
        &mut stream,
        "200 OK",
        "You are signed in to the causeway command line. You may close this tab.",
    )
    .await;
    Some(Ok(code))
}

/// Answers the browser with a short page saying `text`.
async fn answer(stream: &mut tokio::net::TcpStream, status: &str, text: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Causeway</title></head><body><p>{text}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
