//! Redaction of tokens and secrets in recorded HTTP exchanges, so a report can be shared.
//!
//! A secret is replaced by `prefix…suffix`, at most a quarter of it at each end (never more than
//! four characters), enough to tell two tokens apart and never the whole value. What counts as a
//! secret: the `Authorization`, `Proxy-Authorization`, `Cookie` and `Set-Cookie` headers; the
//! values of the OAuth fields in [`SECRET_FIELDS`] in JSON bodies, form bodies and query strings;
//! and anything that looks like a JWT (a base64url run starting with `eyJ`), wherever it appears.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// Recorded bodies are cut to this many bytes after redaction (8 KiB).
pub const BODY_CAP: usize = 8 * 1024;

/// Field names whose values are secrets wherever they appear (JSON, form, query string).
pub const SECRET_FIELDS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code",
    "code_verifier",
    "subject_token",
    "actor_token",
    "assertion",
    "client_assertion",
    "registration_access_token",
    "password",
    "token",
];

fn fields_alternation() -> String {
    SECRET_FIELDS.join("|")
}

/// `"access_token": "…"` in JSON (escapes inside the string included).
static JSON_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r#"(?i)("(?:{})"\s*:\s*")((?:[^"\\]|\\.)*)(")"#, fields_alternation()))
        .unwrap_or_else(|e| panic!("JSON_FIELD regex: {e}"))
});

/// `code=…` in a form body, a query string or a fragment.
static FORM_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)(^|[?&#;\s])((?:{})=)([^&#\s]*)", fields_alternation()))
        .unwrap_or_else(|e| panic!("FORM_FIELD regex: {e}"))
});

/// A JWT (or the start of one, when a capped body cut it): base64url JSON `{"…` segments.
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){0,2}").unwrap_or_else(|e| panic!("JWT regex: {e}"))
});

/// `prefix…suffix` of `secret`: at most a quarter of it (and four characters) at each end.
pub fn mask(secret: &str) -> String {
    if secret.contains('…') {
        return secret.to_string(); // already masked
    }
    let chars: Vec<char> = secret.chars().collect();
    let n = (chars.len() / 4).min(4);
    let prefix: String = chars[..n].iter().collect();
    let suffix: String = chars[chars.len() - n..].iter().collect();
    format!("{prefix}…{suffix}")
}

/// Redacts secret fields and JWTs in any text (a URL, a body, a header value).
pub fn redact_text(text: &str) -> String {
    // JWTs first: a field's masked value (`eyJh…abcd`) must not be taken for a JWT again.
    let text = mask_jwts(text);
    let text = JSON_FIELD.replace_all(&text, |c: &Captures| format!("{}{}{}", &c[1], mask(&c[2]), &c[3]));
    FORM_FIELD.replace_all(&text, |c: &Captures| format!("{}{}{}", &c[1], &c[2], mask(&c[3]))).into_owned()
}

/// Masks every JWT-looking run, leaving alone the prefix of one already masked (`eyJh…`).
fn mask_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in JWT.find_iter(text) {
        out.push_str(&text[last..m.start()]);
        if text[m.end()..].starts_with('…') {
            out.push_str(m.as_str());
        } else {
            out.push_str(&mask(m.as_str()));
        }
        last = m.end();
    }
    out.push_str(&text[last..]);
    out
}

/// Redacts one header value, by name.
pub fn redact_header(name: &str, value: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "authorization" | "proxy-authorization" => match value.split_once(' ') {
            Some((scheme, credentials)) => format!("{scheme} {}", mask(credentials.trim())),
            None => mask(value),
        },
        "cookie" => value
            .split(';')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => format!("{k}={}", mask(v)),
                None => mask(pair),
            })
            .collect::<Vec<_>>()
            .join(";"),
        "set-cookie" => {
            let (first, attributes) = value.split_once(';').map_or((value, None), |(f, a)| (f, Some(a)));
            let first = match first.split_once('=') {
                Some((k, v)) => format!("{k}={}", mask(v)),
                None => mask(first),
            };
            attributes.map_or(first.clone(), |a| format!("{first};{}", redact_text(a)))
        }
        _ => redact_text(value),
    }
}

/// Redacts a body, then caps it at [`BODY_CAP`] bytes (on a character boundary), saying so.
/// `total` is the body's full size when only a prefix of it was captured.
pub fn redact_body(raw: &[u8], total: usize) -> String {
    let text = redact_text(&String::from_utf8_lossy(raw));
    if text.len() <= BODY_CAP && total <= raw.len() {
        return text;
    }
    let mut end = BODY_CAP.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n… [cut at {} bytes of {} in all]", &text[..end], BODY_CAP, total.max(raw.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const JWT_SAMPLE: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

    #[test]
    fn masks_keep_a_quarter_at_most() {
        assert_eq!(mask("abcdefghijklmnop"), "abcd…mnop");
        assert_eq!(mask("abcdefgh"), "ab…gh");
        assert_eq!(mask("abc"), "…");
        assert_eq!(mask(""), "…");
    }

    #[test]
    fn json_form_query_and_headers_are_redacted() {
        let json =
            r#"{"access_token":"s3cr3t-access-token","token_type":"Bearer","refresh_token":"r3fr3sh-token-value"}"#;
        let out = redact_text(json);
        assert!(!out.contains("s3cr3t-access-token") && !out.contains("r3fr3sh-token-value"), "{out}");
        assert!(out.contains(r#""token_type":"Bearer""#), "{out}");
        let form = "grant_type=authorization_code&code=the-code-1234&code_verifier=verifier-abcdefgh&client_id=app";
        let out = redact_text(form);
        assert!(!out.contains("the-code-1234") && !out.contains("verifier-abcdefgh"), "{out}");
        assert!(out.contains("client_id=app") && out.contains("grant_type=authorization_code"), "{out}");
        let url = "http://127.0.0.1:1/callback?code=abcdefghijkl&state=xyz";
        assert_eq!(redact_text(url), "http://127.0.0.1:1/callback?code=abc…jkl&state=xyz");
        assert_eq!(
            redact_header("Authorization", &format!("Bearer {JWT_SAMPLE}")),
            format!("Bearer {}", mask(JWT_SAMPLE))
        );
        assert!(mask(JWT_SAMPLE).starts_with("eyJh…"));
        let cookie = redact_header("cookie", "session=abcdefghijkl; theme=dark-mode-on");
        assert!(!cookie.contains("abcdefghijkl") && cookie.starts_with("session=abc…jkl"), "{cookie}");
        let set = redact_header("Set-Cookie", "sid=0123456789abcdef; Path=/; HttpOnly");
        assert_eq!(set, "sid=0123…cdef; Path=/; HttpOnly");
    }

    #[test]
    fn jwts_are_redacted_anywhere_even_cut() {
        let text = format!("data: {{\"result\":\"{JWT_SAMPLE}\"}}\n");
        assert!(!redact_text(&text).contains("eyJzdWIiOiJhbGljZSJ9"));
        let field = format!(r#"{{"access_token":"{JWT_SAMPLE}"}}"#);
        assert_eq!(redact_text(&field), format!(r#"{{"access_token":"{}"}}"#, mask(JWT_SAMPLE)));
        let cut = &JWT_SAMPLE[..30];
        assert!(!redact_text(cut).contains("eyJzdWIi"), "{}", redact_text(cut));
    }

    #[test]
    fn bodies_are_capped_after_redaction() {
        let big = "x".repeat(BODY_CAP * 2);
        let out = redact_body(big.as_bytes(), big.len());
        assert!(out.len() < BODY_CAP + 100 && out.contains("cut at 8192 bytes of 16384"), "{}", &out[BODY_CAP..]);
        assert_eq!(redact_body(b"small", 5), "small");
    }

    proptest! {
        /// No secret survives whole, whichever field or header carries it.
        #[test]
        fn no_secret_survives(secret in "[A-Za-z0-9_~.+/-]{8,64}", field in proptest::sample::select(SECRET_FIELDS)) {
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            let json = serde_json::json!({ field: secret, "other": 1 }).to_string();
            let texts = [
                redact_text(&json),
                redact_text(&format!("grant_type=x&{field}={encoded}&client_id=c")),
                redact_text(&format!("http://h/cb?state=s&{field}={encoded}")),
                redact_header("authorization", &format!("Bearer {secret}")),
                redact_header("cookie", &format!("a=1; session={secret}")),
                redact_header("set-cookie", &format!("session={secret}; Path=/")),
                redact_body(format!("data: {json}\n\n").as_bytes(), 0),
            ];
            for text in texts {
                prop_assert!(!text.contains(&secret), "{} survived in {}", secret, text);
                prop_assert!(!text.contains(&encoded) || encoded.len() < 8, "{} survived in {}", encoded, text);
            }
        }

        /// Redacting twice changes nothing (a masked value is never masked again).
        #[test]
        fn redaction_is_idempotent(
            secret in "[A-Za-z0-9_-]{8,64}",
            field in proptest::sample::select(SECRET_FIELDS),
        ) {
            let jwt = format!("eyJ{secret}.eyJ{secret}.{secret}");
            for text in [
                serde_json::json!({ field: jwt, "b": secret }).to_string(),
                format!("{field}={secret}&x={jwt}"),
            ] {
                let once = redact_text(&text);
                prop_assert_eq!(redact_text(&once), once.clone());
                prop_assert!(once.contains("eyJ"), "{}", once);
            }
        }

        /// A JWT-looking string is redacted wherever it appears, in any surrounding text.
        #[test]
        fn no_jwt_survives(
            header in "[A-Za-z0-9_-]{8,40}",
            payload in "[A-Za-z0-9_-]{8,80}",
            sig in "[A-Za-z0-9_-]{0,80}",
            before in "[ -~]{0,20}",
            after in "[ -~&&[^A-Za-z0-9_.-]][ -~]{0,20}",
        ) {
            let jwt = format!("eyJ{header}.{payload}.{sig}");
            let out = redact_text(&format!("{before}{jwt}{after}"));
            prop_assert!(!out.contains(&payload), "{} survived in {}", payload, out);
        }
    }
}
