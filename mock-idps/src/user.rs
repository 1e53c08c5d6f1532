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
        Self { login: login.to_owned(), github_id, name, email: format!("{login}@example.com"), google_sub }
    }
}

impl Default for MockUser {
    /// `alice`, the user who logs in until a scenario says otherwise.
    fn default() -> Self {
        Self::named("alice")
    }
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
}
