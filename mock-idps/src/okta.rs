//! An Okta-like provider: one issuer that is an OIDC provider (discovery, authorization code,
//! RS256 ID tokens, JWKS) and also answers RFC 8693 token exchange at its token endpoint, as an
//! Okta authorization server does. The OIDC side is [`GoogleMock`]'s behaviour, the exchange side
//! [`TokenExchangeMock`]'s; both share one server, so both speak for the same issuer.

use std::sync::Arc;

use crate::{GoogleMock, TokenExchangeMock};

/// The two faces of one Okta-like issuer.
#[derive(Debug)]
pub struct OktaMock {
    /// The OIDC provider (a vMCP upstream).
    pub oidc: GoogleMock,
    /// The RFC 8693 endpoint on the same server (a backend's tokenExchange).
    pub exchange: TokenExchangeMock,
}

impl OktaMock {
    /// `oidc_client` logs users in; `exchange_client` exchanges tokens (each id, secret).
    pub async fn start(oidc_client: (&str, &str), exchange_client: (&str, &str)) -> Self {
        let server = Arc::new(crate::standalone::server(None).await);
        let exchange = TokenExchangeMock::mount_on(server.clone(), exchange_client.0, exchange_client.1).await;
        let oidc = GoogleMock::serve_on(server, oidc_client.0, oidc_client.1).await;
        Self { oidc, exchange }
    }

    /// The issuer both faces speak for.
    pub fn issuer(&self) -> String {
        self.oidc.issuer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token_exchange::{ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT};

    #[tokio::test]
    async fn one_issuer_logs_in_and_exchanges() {
        let okta = OktaMock::start(("web", "web-secret"), ("ex", "ex-secret")).await;
        let http = reqwest::Client::new();
        let discovery: serde_json::Value = http
            .get(format!("{}/.well-known/openid-configuration", okta.issuer()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(discovery["issuer"], okta.issuer());
        let token_endpoint = discovery["token_endpoint"].as_str().unwrap();
        // A code grant is the OIDC side's (an unknown code fails there), never an exchange.
        let code = http
            .post(token_endpoint)
            .form(&[("grant_type", "authorization_code"), ("code", "unknown")])
            .send()
            .await
            .unwrap();
        assert!(!code.status().is_success());
        assert!(okta.exchange.exchanges().is_empty());
        let exchanged = http
            .post(token_endpoint)
            .basic_auth("ex", Some("ex-secret"))
            .form(&[
                ("grant_type", TOKEN_EXCHANGE_GRANT),
                ("subject_token", "opaque"),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("audience", "backend"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(exchanged.status(), 200);
        let token = okta.exchange.exchanges()[0].issued.clone().unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
        )
        .unwrap();
        assert_eq!(claims["iss"], okta.issuer());
    }
}
