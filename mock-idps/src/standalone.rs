//! Every mock on fixed, consecutive ports (`vmcp-conformance mock-idps --listen ADDR`, and the url
//! target's `--mocks-listen ADDR`), so that an implementation the harness does not start can be
//! configured with their URLs once.
//!
//! Ports, from the base port P of ADDR: P GitHub-like, P+1 Google-like OIDC, P+2 RFC 8693 token
//! exchange (Okta-like), P+3 OIDC issuer (the XAA / Entra-like IdP), P+4 Slack-like, P+5
//! Snowflake-like, P+6 DCR provider, P+7 CIMD host, P+10… the mock MCP backends.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use wiremock::MockServer;

use crate::{
    CimdHost, DcrProviderMock, GithubMock, GoogleMock, MockBackend, MockUser, OidcIssuerMock, SlackMock, SnowflakeMock,
    TokenExchangeMock,
};

/// The OAuth clients registered at the standalone mocks (the suite's own values).
pub const GITHUB_CLIENT: (&str, &str) = ("conformance-github-client", "conformance-github-secret");
pub const GOOGLE_CLIENT: (&str, &str) = ("conformance-google-client", "conformance-google-secret");
pub const EXCHANGE_CLIENT: (&str, &str) = ("conformance-exchange-client", "conformance-exchange-secret");
pub const IDP_CLIENT: (&str, &str) = ("conformance-idp-client", "conformance-idp-secret");
/// The DCR provider's initial access token.
pub const DCR_INITIAL_ACCESS_TOKEN: &str = "conformance-initial-access-token";
/// The first backend port is the base port plus this.
pub const FIRST_BACKEND_OFFSET: u16 = 10;

/// A wiremock server, on `listener` when given (a fixed port), else on a free loopback port.
pub(crate) async fn server(listener: Option<TcpListener>) -> MockServer {
    match listener {
        Some(l) => MockServer::builder().listener(l).start().await,
        None => MockServer::start().await,
    }
}

/// Where each mock listens, from one base address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    base: SocketAddr,
}

impl Layout {
    /// `base` must name an address other processes can reach (not `0.0.0.0`): the mocks put it
    /// in the URLs they advertise (issuer, endpoints).
    pub fn new(base: SocketAddr) -> Result<Self, String> {
        if base.ip().is_unspecified() {
            return Err(format!(
                "{base}: give the address the implementation reaches the mocks at (e.g. 127.0.0.1:{0} or the \
                 host's IP), not an unspecified one: the mocks advertise it as their issuer",
                base.port()
            ));
        }
        if base.port() == 0 || base.port() > u16::MAX - 64 {
            return Err(format!("{base}: the base port must be a fixed port below {}", u16::MAX - 64));
        }
        Ok(Self { base })
    }

    fn at(&self, offset: u16) -> SocketAddr {
        SocketAddr::new(self.base.ip(), self.base.port() + offset)
    }

    pub fn github(&self) -> SocketAddr {
        self.at(0)
    }
    pub fn google(&self) -> SocketAddr {
        self.at(1)
    }
    pub fn token_exchange(&self) -> SocketAddr {
        self.at(2)
    }
    pub fn oidc_issuer(&self) -> SocketAddr {
        self.at(3)
    }
    pub fn slack(&self) -> SocketAddr {
        self.at(4)
    }
    pub fn snowflake(&self) -> SocketAddr {
        self.at(5)
    }
    pub fn dcr(&self) -> SocketAddr {
        self.at(6)
    }
    pub fn cimd(&self) -> SocketAddr {
        self.at(7)
    }
    /// The `index`-th backend (at most 50).
    pub fn backend(&self, index: usize) -> Result<SocketAddr, String> {
        u16::try_from(index)
            .ok()
            .filter(|i| *i < 50)
            .map(|i| self.at(FIRST_BACKEND_OFFSET + i))
            .ok_or_else(|| format!("backend #{index}: the layout has room for 50 mock backends"))
    }
}

/// Binds `addr`, retrying for a few seconds: a mock of the previous scenario on the same port may
/// still be shutting down.
pub fn bind_fixed(addr: SocketAddr) -> Result<TcpListener, String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpListener::bind(addr) {
            Ok(l) => return Ok(l),
            Err(e) if Instant::now() < deadline && e.kind() == std::io::ErrorKind::AddrInUse => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(format!("cannot listen on {addr}: {e}")),
        }
    }
}

/// Every mock, started together.
pub struct Standalone {
    pub github: GithubMock,
    pub google: GoogleMock,
    pub token_exchange: TokenExchangeMock,
    pub oidc_issuer: OidcIssuerMock,
    pub slack: SlackMock,
    pub snowflake: SnowflakeMock,
    pub dcr: DcrProviderMock,
    pub cimd: CimdHost,
    pub backends: Vec<MockBackend>,
}

impl Standalone {
    /// Starts every mock on `layout`; `backends` are `(name, tools)` in port order.
    pub async fn start(layout: Layout, backends: &[(String, Vec<String>)]) -> Result<Self, String> {
        let bind = |addr| bind_fixed(addr).map(Some);
        let github = GithubMock::start_on(bind(layout.github())?, GITHUB_CLIENT.0, GITHUB_CLIENT.1).await;
        let google = GoogleMock::start_on(bind(layout.google())?, GOOGLE_CLIENT.0, GOOGLE_CLIENT.1).await;
        let token_exchange =
            TokenExchangeMock::start_on(bind(layout.token_exchange())?, EXCHANGE_CLIENT.0, EXCHANGE_CLIENT.1).await;
        let oidc_issuer = OidcIssuerMock::start_on(bind(layout.oidc_issuer())?, IDP_CLIENT.0, IDP_CLIENT.1)
            .await
            .map_err(|e| format!("OIDC issuer mock: {e}"))?;
        let slack = SlackMock::start_on(bind(layout.slack())?, GITHUB_CLIENT.0, GITHUB_CLIENT.1).await;
        let snowflake = SnowflakeMock::start_on(bind(layout.snowflake())?, GITHUB_CLIENT.0, GITHUB_CLIENT.1).await;
        let dcr = DcrProviderMock::start_on(bind(layout.dcr())?, Some(DCR_INITIAL_ACCESS_TOKEN), false).await;
        let cimd = CimdHost::start_on(bind(layout.cimd())?).await;
        let mut started = Vec::new();
        for (i, (name, tools)) in backends.iter().enumerate() {
            let tools: Vec<&str> = tools.iter().map(String::as_str).collect();
            started.push(MockBackend::start_on(bind(layout.backend(i)?)?, name, &tools).await);
        }
        Ok(Self { github, google, token_exchange, oidc_issuer, slack, snowflake, dcr, cimd, backends: started })
    }

    /// What an operator needs to configure an implementation against these mocks.
    pub fn describe(&self) -> String {
        let alice = MockUser::default();
        let mut lines = vec![
            format!(
                "github-like OAuth 2.0   {}  (github.com and api.github.com paths; client {} / {})",
                self.github.base_url(),
                GITHUB_CLIENT.0,
                GITHUB_CLIENT.1
            ),
            format!(
                "google-like OIDC        {}  (issuer; client {} / {})",
                self.google.issuer(),
                GOOGLE_CLIENT.0,
                GOOGLE_CLIENT.1
            ),
            format!(
                "token exchange (8693)   {}  (token endpoint {}; client {} / {})",
                self.token_exchange.base_url(),
                self.token_exchange.token_url(),
                EXCHANGE_CLIENT.0,
                EXCHANGE_CLIENT.1
            ),
            format!(
                "OIDC issuer (XAA IdP)   {}  (issuer; client {} / {})",
                self.oidc_issuer.issuer(),
                IDP_CLIENT.0,
                IDP_CLIENT.1
            ),
            format!(
                "slack-like OAuth 2.0    {}  (client {} / {})",
                self.slack.base_url(),
                GITHUB_CLIENT.0,
                GITHUB_CLIENT.1
            ),
            format!(
                "snowflake-like OAuth    {}  (client {} / {})",
                self.snowflake.base_url(),
                GITHUB_CLIENT.0,
                GITHUB_CLIENT.1
            ),
            format!(
                "DCR provider            {}  (initial access token {DCR_INITIAL_ACCESS_TOKEN})",
                self.dcr.base_url()
            ),
            format!("CIMD host               {}", self.cimd.base_url()),
        ];
        for b in &self.backends {
            lines.push(format!("MCP backend {:11} {}", b.name(), b.url()));
        }
        lines.push(format!(
            "test user: {} (GitHub id {}, email {}, Google sub {}); every login is consented automatically",
            alice.login, alice.github_id, alice.email, alice.google_sub
        ));
        lines.join("\n")
    }
}
