//! Who gets through to Flight SQL, and with what: every call but the handshake is
//! authenticated before its message is read, malformed messages are refused plainly, and
//! under mutual TLS only clients with a certificate of the configured CA connect.

use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::{FlightDescriptor, Ticket};
use futures::TryStreamExt;
use prost::Message;
use tonic::transport::Channel;
use tonic::{Code, Request};

use crate::flight::{channel, flight_address, hub_with_flight};
use crate::support::ADMIN;

/// Under `[server.tls]` with a client CA, Flight SQL is served over mutual TLS as the API is:
/// a client with a certificate of that CA gets in, one without does not, nor does plain text.
#[tokio::test]
async fn flight_sql_is_served_over_mutual_tls() {
    let (hub, certs) = crate::tls::tls_hub("flight_listen = \"127.0.0.1:0\"\n", true, true).await;
    let address = flight_address(&hub);
    let port = address.rsplit(':').next().expect("a port");
    let read = |name: &str| std::fs::read(certs.join(name)).expect("a certificate file");
    let ca = tonic::transport::Certificate::from_pem(read("ca.pem"));
    let connect = |identity: Option<tonic::transport::Identity>| {
        let mut tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(ca.clone())
            .domain_name("localhost");
        if let Some(identity) = identity {
            tls = tls.identity(identity);
        }
        let endpoint = Channel::from_shared(format!("https://localhost:{port}"))
            .expect("a URL")
            .tls_config(tls)
            .expect("TLS settings");
        async move { endpoint.connect().await }
    };
    let with_certificate = connect(Some(tonic::transport::Identity::from_pem(
        read("client.pem"),
        read("client-key.pem"),
    )))
    .await
    .expect("a client with a certificate connects");
    let mut client = FlightSqlServiceClient::new(with_certificate);
    client
        .handshake(ADMIN, &hub.admin_secret)
        .await
        .expect("the handshake over TLS");

    let without = match connect(None).await {
        Ok(channel) => FlightSqlServiceClient::new(channel)
            .handshake(ADMIN, &hub.admin_secret)
            .await
            .is_err(),
        Err(_) => true,
    };
    assert!(without, "a client without a certificate is refused");
    let plain = match Channel::from_shared(format!("http://{address}"))
        .expect("a URL")
        .connect()
        .await
    {
        Ok(channel) => FlightSqlServiceClient::new(channel)
            .handshake(ADMIN, &hub.admin_secret)
            .await
            .is_err(),
        Err(_) => true,
    };
    assert!(plain, "plain text is refused");
}

/// `request` with `token` as its bearer, if one is given.
fn with<T>(token: Option<&str>, mut request: Request<T>) -> Request<T> {
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    request
}

/// Every call but the handshake is authenticated before anything in it is read, and a
/// command, ticket or action body that is not what it claims is `InvalidArgument` with a
/// plain message, never `Internal` with a decoder's debug text.
#[tokio::test]
async fn flight_sql_checks_the_caller_before_the_message_and_refuses_malformed_ones_plainly() {
    let hub = hub_with_flight().await;
    let token = hub.token(ADMIN, &hub.admin_secret).await;
    let mut client = arrow_flight::flight_service_client::FlightServiceClient::new(channel(&hub).await);
    // A claimed CommandStatementQuery whose bytes are not one.
    let lying = arrow_flight::sql::Any {
        type_url: "type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery".into(),
        value: vec![0xff, 0xff, 0xff].into(),
    }
    .encode_to_vec();
    for token in [None, Some(token.as_str())] {
        let expected = if token.is_some() {
            Code::InvalidArgument
        } else {
            Code::Unauthenticated
        };
        let refused = client
            .get_flight_info(with(
                token,
                Request::new(FlightDescriptor::new_cmd(lying.clone())),
            ))
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), expected, "GetFlightInfo: {refused}");
        assert!(!refused.message().contains("ParseError"), "{refused}");
        let refused = client
            .do_get(with(token, Request::new(Ticket::new(lying.clone()))))
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), expected, "DoGet: {refused}");
        let action = arrow_flight::Action::new("CreatePreparedStatement", lying.clone());
        let refused = client
            .do_action(with(token, Request::new(action)))
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), expected, "DoAction: {refused}");
        // Which actions exist is not told to a caller without a token.
        let refused = client
            .do_action(with(
                token,
                Request::new(arrow_flight::Action::new("NoSuchAction", "")),
            ))
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), expected, "an unknown action: {refused}");
        let listed = client
            .list_actions(with(token, Request::new(arrow_flight::Empty {})))
            .await;
        match token {
            None => assert_eq!(listed.expect_err("refused").code(), Code::Unauthenticated),
            Some(_) => {
                let actions: Vec<String> = listed
                    .expect("the actions")
                    .into_inner()
                    .map_ok(|action| action.r#type)
                    .try_collect()
                    .await
                    .expect("listed");
                assert!(
                    actions.contains(&"CreatePreparedStatement".to_owned()),
                    "{actions:?}"
                );
                assert!(!actions.contains(&"BeginTransaction".to_owned()), "{actions:?}");
            }
        }
    }
    let refused = client
        .do_action(with(
            Some(&token),
            Request::new(arrow_flight::Action::new("BeginTransaction", "")),
        ))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::Unimplemented, "{refused}");
    // DoPut's descriptor, in the stream's first message: a command that lies about what it
    // is, and one that is no Any at all.
    for command in [lying.clone(), vec![0xff, 0x01]] {
        let data = arrow_flight::FlightData {
            flight_descriptor: Some(FlightDescriptor::new_cmd(command)),
            ..Default::default()
        };
        let put = client
            .do_put(with(
                Some(&token),
                Request::new(futures::stream::iter(vec![data])),
            ))
            .await;
        let refused = match put {
            Err(status) => status,
            Ok(response) => response.into_inner().message().await.expect_err("refused"),
        };
        assert_eq!(refused.code(), Code::InvalidArgument, "DoPut: {refused}");
        assert!(
            !refused.message().contains("Error"),
            "a plain message, not the decoder's: {refused}"
        );
    }
    // A command the hub does not serve, whose type URL carries control and direction
    // characters: refused without repeating the client's text.
    let unknown = arrow_flight::sql::Any {
        type_url: "type.googleapis.com/evil\u{202e}\u{1b}[31mred".into(),
        value: Vec::new().into(),
    }
    .encode_to_vec();
    let refused = client
        .get_flight_info(with(
            Some(&token),
            Request::new(FlightDescriptor::new_cmd(unknown.clone())),
        ))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::Unimplemented, "GetFlightInfo: {refused}");
    assert!(!refused.message().contains("evil"), "{refused}");
    let refused = client
        .do_get(with(Some(&token), Request::new(Ticket::new(unknown.clone()))))
        .await
        .expect_err("refused");
    assert!(!refused.message().contains("evil"), "DoGet: {refused}");
    let data = arrow_flight::FlightData {
        flight_descriptor: Some(FlightDescriptor::new_cmd(unknown)),
        ..Default::default()
    };
    let put = client
        .do_put(with(
            Some(&token),
            Request::new(futures::stream::iter(vec![data])),
        ))
        .await;
    let refused = match put {
        Err(status) => status,
        Ok(response) => response.into_inner().message().await.expect_err("refused"),
    };
    assert_eq!(refused.code(), Code::Unimplemented, "DoPut: {refused}");
    assert!(!refused.message().contains("evil"), "DoPut: {refused}");
}
