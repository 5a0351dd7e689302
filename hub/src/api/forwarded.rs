//! The client's address behind the operator's reverse proxies. A load balancer or nginx in
//! front of the hub makes every request come from its own address, so that per-address
//! limits would lock everyone out together and audit records would name the proxy. When the
//! connection comes from a configured trusted proxy (`[server] trusted_proxies`), the
//! client is the nearest address in `X-Forwarded-For` (the de facto header; RFC 7239 §5.2
//! describes the same chain) that is not itself a trusted proxy, read from the right, since
//! whatever a client writes into the header comes first. From any other peer the header is
//! ignored: anyone can send it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use super::auth::PeerAddress;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(proxies: Vec<IpNet>) -> Self {
        Self(proxies)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|proxy| proxy.contains(&address))
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn client_address(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.trusts(peer.ip()) {
            return peer;
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map_while(|hop| hop.trim().parse::<IpAddr>().ok())
            .collect();
        // Right to left, past our own proxies; an unreadable hop ends the chain there.
        match hops.iter().rev().find(|hop| !self.trusts(**hop)) {
            Some(client) => SocketAddr::new(*client, 0),
            None => hops.first().map_or(peer, |first| SocketAddr::new(*first, 0)),
        }
    }
}

/// Replaces the request's peer address with the client's, for everything after it (audit
/// records, sign-in limits, refusal counts).
pub async fn client_address(
    State(proxies): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(PeerAddress(peer)) = request.extensions().get::<PeerAddress>().copied() {
        let client = proxies.client_address(peer, request.headers());
        request.extensions_mut().insert(PeerAddress(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop_and_only_behind_a_trusted_proxy() {
        let proxies = TrustedProxies::new(vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ]);
        let proxy: SocketAddr = "10.1.2.3:5000".parse().unwrap();
        let ip = |address: SocketAddr| address.ip().to_string();
        // A forged first hop is skipped: the nearest untrusted address is the client.
        assert_eq!(
            ip(proxies.client_address(proxy, &headers("6.6.6.6, 203.0.113.7, 10.9.9.9"))),
            "203.0.113.7"
        );
        // No header: the proxy itself.
        assert_eq!(proxies.client_address(proxy, &HeaderMap::new()), proxy);
        // From an untrusted peer the header is ignored.
        let stranger: SocketAddr = "198.51.100.1:4000".parse().unwrap();
        assert_eq!(
            proxies.client_address(stranger, &headers("203.0.113.7")),
            stranger
        );
        // Garbage ends the chain; nothing untrusted before it means the proxy's word is all.
        assert_eq!(
            ip(proxies.client_address(proxy, &headers("not-an-address"))),
            "10.1.2.3"
        );
        // IPv4-mapped IPv6 peers count as their IPv4 address.
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:80".parse().unwrap();
        assert_eq!(
            ip(proxies.client_address(mapped, &headers("203.0.113.9"))),
            "203.0.113.9"
        );
        // No proxies configured: nobody is believed.
        assert_eq!(
            TrustedProxies::default().client_address(proxy, &headers("203.0.113.7")),
            proxy
        );
    }
}
