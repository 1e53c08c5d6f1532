//! Mock users: everything a provider says about a person is derived from the login, so a scenario
//! can name "alice" and know her GitHub id, email and Google `sub` without a fixture file.

use sha2::{Digest, Sha256};

/// A person the mocks log in with automatic consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockUser {
    /// GitHub login, also the key the mocks use in [`crate::IssuedToken::user`].
    pub login: String,
    /// GitHub's numeric user id (`id` in `GET /user`).
    pub github_id: u64,
    /// Display name (`name` in GitHub's `/user`, the `name` claim at Google).
    pub name: String,
    /// `login@example.com`.
    pub email: String,
    /// Google's subject identifier: 21 digits starting with `1084`, like real Google `sub`s.
    pub google_sub: String,
    /// Per provider (`"github"`, `"google"`): claims that make that provider issue its access
    /// tokens as JWTs carrying them (with `sub`, `iss`, `exp`) instead of opaque strings, so a
    /// scenario controls what the access token says (Cedar reads upstream access-token claims).
    pub jwt_access_claims: std::collections::BTreeMap<String, serde_json::Value>,
}

impl MockUser {
    /// A user whose fields are all derived deterministically from `login`.
    pub fn named(login: &str) -> Self {
        let digest = Sha256::digest(login.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let mut second = [0u8; 8];
        second.copy_from_slice(&digest[8..16]);
        // Real GitHub ids are positive and at most 9 digits today.
        let github_id = 1_000_000 + u64::from_be_bytes(first) % 899_000_000;
        // 1084 + 17 digits = 21 digits, the length of real Google subjects.
        let google_sub = format!("1084{:017}", u64::from_be_bytes(second) % 100_000_000_000_000_000);
        let mut chars = login.chars();
        let name = match chars.next() {
            Some(c) => c.to_uppercase().chain(chars).collect(),
            None => String::new(),
        };
        Self {
            login: login.to_owned(),
            github_id,
            name,
            email: format!("{login}@example.com"),
            google_sub,
            jwt_access_claims: std::collections::BTreeMap::new(),
        }
    }
}

impl Default for MockUser {
    /// `alice`, the user who logs in until a scenario says otherwise.
    fn default() -> Self {
        Self::named("alice")
    }
}

/// A JWT access token with `claims` added to `sub`, `iss` and a ten-minute `exp`. The signature
/// is throw-away random bytes: the vMCP reads upstream access-token claims without verifying them.
pub(crate) fn jwt_access_token(sub: &str, iss: &str, claims: &serde_json::Value) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let mut payload = serde_json::json!({
        "sub": sub, "iss": iss, "iat": now, "exp": now + 600, "jti": crate::oauth::random_token(8),
    });
    if let (Some(out), Some(extra)) = (payload.as_object_mut(), claims.as_object()) {
        out.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let sig = URL_SAFE_NO_PAD.encode(crate::oauth::random_token(32));
    format!("{header}.{}.{sig}", URL_SAFE_NO_PAD.encode(payload.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_is_deterministic_and_distinct() {
        let a = MockUser::named("alice");
        assert_eq!(a, MockUser::named("alice"));
        assert_eq!(a.email, "alice@example.com");
        assert_eq!(a.name, "Alice");
        assert_eq!(a.google_sub.len(), 21);
        assert!(a.google_sub.starts_with("1084"));
        assert!(a.google_sub.bytes().all(|b| b.is_ascii_digit()));
        let b = MockUser::named("bob");
        assert_ne!(a.github_id, b.github_id);
        assert_ne!(a.google_sub, b.google_sub);
    }

    #[test]
    fn jwt_access_token_carries_the_claims() {
        use base64::Engine as _;
        let t = jwt_access_token("alice", "http://idp", &serde_json::json!({"groups": ["eng"]}));
        let payload = t.split('.').nth(1).unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        assert_eq!(v["groups"], serde_json::json!(["eng"]));
        assert_eq!(v["sub"], "alice");
    }
}
