//! The command line signed in by a person: the hub's sign-in page in their browser, the
//! code coming back to the command on a loopback address (RFC 8252, PKCE), and the refresh
//! token renewing what the command keeps.

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use super::people::{PASSWORD, browser, open_page, submit};
use crate::support::Hub;

/// A person signs the command line in through their browser (RFC 8252: the code comes back
/// to the command on a loopback address, with PKCE), then runs commands as themselves; when
/// the token runs out it is renewed with the refresh token, which rotates.
#[tokio::test]
async fn a_person_signs_the_command_line_in_through_their_browser() {
    use std::io::BufRead;

    let hub = Hub::start("").await;
    hub.add_person("chen.jun", "civil_affairs", "analyst", "Chen Jun", PASSWORD);
    let config = hub.dir().join("cli-config");
    let mut login = std::process::Command::new(crate::support::causeway_binary())
        .args(["login", "--person", "--no-browser", "--hub", &hub.url])
        .env("CAUSEWAY_CONFIG_DIR", &config)
        .env_remove("CAUSEWAY_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("causeway login");
    // The address it says to open: the hub's sign-in page for the command line.
    let mut said = std::io::BufReader::new(login.stderr.take().expect("stderr"));
    let mut line = String::new();
    let address = loop {
        line.clear();
        assert!(
            said.read_line(&mut line).expect("stderr") > 0,
            "no sign-in address"
        );
        if let Some(at) = line.trim().strip_prefix(&format!("{}/oauth/authorize?", hub.url)) {
            break format!("{}/oauth/authorize?{at}", hub.url);
        }
    };
    let address = url::Url::parse(&address).expect("a URL");
    let query: Vec<(String, String)> = address
        .query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let parameter = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    assert_eq!(parameter("client_id").as_deref(), Some("causeway-cli"));
    assert_eq!(parameter("code_challenge_method").as_deref(), Some("S256"));
    assert!(
        parameter("redirect_uri")
            .is_some_and(|uri| uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback")),
        "{query:?}"
    );

    // The browser: the page, the form, and the redirect back to the command.
    let (fields, cookie) = open_page(&hub, &query).await;
    let response = submit(&hub, &fields, &cookie, "chen.jun", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = response.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_owned();
    // A page elsewhere sending another state is answered and ignored.
    let forged = back.replace("state=", "state=forged");
    let ignored = browser().get(&forged).send().await.expect("the forged callback");
    assert_eq!(ignored.status(), StatusCode::BAD_REQUEST);
    // Another local program holding a connection to the port open, sending nothing, does
    // not stall the sign-in.
    let port = url::Url::parse(&back).expect("a URL").port().expect("a port");
    let _idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("an idle connection");
    let landed = tokio::time::timeout(std::time::Duration::from_secs(3), browser().get(&back).send())
        .await
        .expect("answered while another connection idles")
        .expect("the callback");
    assert_eq!(landed.status(), StatusCode::OK);
    assert!(landed.text().await.expect("page").contains("You are signed in"));
    let output = tokio::task::spawn_blocking(move || login.wait_with_output())
        .await
        .expect("join")
        .expect("login ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("as chen.jun"), "{stdout}");

    // Commands run as the person, from the kept token.
    let config_dir = config.to_string_lossy().into_owned();
    let env = [("CAUSEWAY_CONFIG_DIR", config_dir.as_str())];
    let run = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--hub", hub.url.as_str()]);
        crate::support::causeway_with(&args, &env)
    };
    let listed = run(&["grant", "list"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );

    // Run out: the next command renews it with the refresh token, which is replaced.
    let path = config.join("credentials.json");
    let mut kept: Value = serde_json::from_slice(&std::fs::read(&path).expect("credentials")).expect("JSON");
    let first = kept["hubs"][&hub.url]["refresh_token"].clone();
    assert!(first.is_string(), "{kept}");
    kept["hubs"][&hub.url]["expires_at"] = json!(0);
    std::fs::write(&path, kept.to_string()).expect("credentials");
    let listed = run(&["grant", "list"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let renewed: Value = serde_json::from_slice(&std::fs::read(&path).expect("credentials")).expect("JSON");
    let second = &renewed["hubs"][&hub.url]["refresh_token"];
    assert!(second.is_string() && *second != first, "{renewed}");

    // A disabled person's sign-in ends, and the command says how to sign in again.
    let (status, _) = hub
        .system()
        .await
        .post("/v1/clients/chen.jun/disable", json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    kept["hubs"][&hub.url] = renewed["hubs"][&hub.url].clone();
    kept["hubs"][&hub.url]["expires_at"] = json!(0);
    std::fs::write(&path, kept.to_string()).expect("credentials");
    let refused = run(&["grant", "list"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("causeway login") && said.contains("--person"),
        "{said}"
    );
}
