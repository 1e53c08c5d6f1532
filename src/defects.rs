//! Test-only defect switches for the reference target.
//!
//! Each switch breaks exactly one documented requirement, so that a meta-test can show the
//! scenarios covering that requirement fail (rule 3 of ARCHITECTURE.md). They are never on by
//! default and are named on the command line with `--defect <name>`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One deliberate departure from the docs or an RFC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    /// `upstreamInject` forwards another provider's token than `providerName` names.
    InjectWrongProviderToken,
    /// The gateway forwards the client's own `Authorization` header to backends that have no strategy.
    LeakClientAuthorization,
    /// The gateway accepts JWTs whose `aud` does not contain the configured audience.
    SkipAudienceCheck,
    /// The gateway accepts JWTs whose `exp` has passed.
    SkipExpiryCheck,
    /// The gateway accepts JWTs without checking their signature.
    SkipSignatureCheck,
    /// The token endpoint accepts any `code_verifier` (PKCE not checked).
    SkipPkceVerification,
    /// Access tokens live twice as long as `tokenLifespans.accessTokenLifespan` says.
    DoubleAccessTokenLifespan,
    /// The discovery document omits `registration_endpoint`.
    OmitRegistrationEndpoint,
}

impl Defect {
    /// Every switch, with its command-line name and what it breaks.
    pub const ALL: &'static [(Defect, &'static str, &'static str)] = &[
        (
            Defect::InjectWrongProviderToken,
            "inject-wrong-provider-token",
            "upstreamInject sends another provider's access token",
        ),
        (
            Defect::LeakClientAuthorization,
            "leak-client-authorization",
            "backends without a strategy receive the client's own Authorization header",
        ),
        (Defect::SkipAudienceCheck, "skip-audience-check", "incoming JWTs are accepted whatever their aud"),
        (Defect::SkipExpiryCheck, "skip-expiry-check", "incoming JWTs are accepted after exp"),
        (
            Defect::SkipSignatureCheck,
            "skip-signature-check",
            "incoming JWTs are accepted without signature verification",
        ),
        (Defect::SkipPkceVerification, "skip-pkce-verification", "the token endpoint ignores code_verifier"),
        (
            Defect::DoubleAccessTokenLifespan,
            "double-access-token-lifespan",
            "access tokens outlive accessTokenLifespan",
        ),
        (
            Defect::OmitRegistrationEndpoint,
            "omit-registration-endpoint",
            "RFC 8414 metadata lacks registration_endpoint",
        ),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(d, _, _)| *d == self).map(|(_, n, _)| *n).unwrap_or("unknown")
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Defect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().find(|(_, n, _)| *n == s).map(|(d, _, _)| *d).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|(_, n, _)| *n).collect();
            format!("unknown defect switch `{s}`; known switches: {}", known.join(", "))
        })
    }
}

/// The set of switches a reference target runs with (empty in every normal run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects(BTreeSet<Defect>);

impl Defects {
    pub fn none() -> Self {
        Self::default()
    }
    pub fn with(mut self, d: Defect) -> Self {
        self.0.insert(d);
        self
    }
    pub fn is_on(&self, d: Defect) -> bool {
        self.0.contains(&d)
    }
    pub fn iter(&self) -> impl Iterator<Item = Defect> + '_ {
        self.0.iter().copied()
    }
    /// Parses a comma-separated list, as given to `--defect` or `VMCP_CONFORMANCE_DEFECTS`.
    pub fn parse_list(s: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            set.insert(part.parse()?);
        }
        Ok(Self(set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (d, name, _) in Defect::ALL {
            assert_eq!(name.parse::<Defect>().unwrap(), *d);
            assert_eq!(d.name(), *name);
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = Defects::parse_list("nope").unwrap_err();
        assert!(err.contains("inject-wrong-provider-token"), "{err}");
    }
}
