//! What the mocks saw and what they handed out, in plain owned types, so that steps can assert on
//! the wire (a backend received exactly the token an IdP issued) without knowing wiremock or axum.

/// An access token (and its companions) a mock issued, so a scenario can assert a backend received
/// exactly it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// Login of the [`crate::MockUser`] the token belongs to.
    pub user: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    /// The OAuth client the token was issued to.
    pub client_id: String,
}

/// Every HTTP request a mock received (method, path, query, headers lower-cased, body as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Decoded query pairs in the order they were sent.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased; values that are not visible ASCII are decoded lossily.
    pub headers: Vec<(String, String)>,
    /// The body decoded as UTF-8 (lossily).
    pub body: String,
}

impl RecordedRequest {
    /// Builds a record from the pieces every HTTP stack has.
    pub fn new(method: &str, uri: &http::Uri, headers: &http::HeaderMap, body: &[u8]) -> Self {
        let query = uri.query().map(parse_form).unwrap_or_default();
        Self {
            method: method.to_owned(),
            path: uri.path().to_owned(),
            query,
            headers: header_pairs(headers),
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, &name.to_ascii_lowercase())
    }

    /// The first value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        find(&self.query, name)
    }

    /// The body parsed as `application/x-www-form-urlencoded`.
    pub fn form(&self) -> Vec<(String, String)> {
        parse_form(&self.body)
    }

    /// The first value of form field `name` in the body.
    pub fn form_param(&self, name: &str) -> Option<String> {
        self.form().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

impl From<&wiremock::Request> for RecordedRequest {
    fn from(req: &wiremock::Request) -> Self {
        let query = req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        Self {
            method: req.method.as_str().to_owned(),
            path: req.url.path().to_owned(),
            query,
            headers: header_pairs(&req.headers),
            body: String::from_utf8_lossy(&req.body).into_owned(),
        }
    }
}

/// Header pairs with lower-cased names (`http` already lower-cases them), in wire order.
pub(crate) fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect()
}

pub(crate) fn parse_form(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Locks a mock's state; a panic elsewhere must not turn every later request into a panic too.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_form_helpers() {
        let mut headers = http::HeaderMap::new();
        headers.insert("X-Trace", http::HeaderValue::from_static("abc"));
        let uri: http::Uri = "/token?a=1&b=two%20words".parse().expect("static uri");
        let r = RecordedRequest::new("POST", &uri, &headers, b"grant_type=authorization_code&code=x%2By");
        assert_eq!(r.header("x-trace"), Some("abc"));
        assert_eq!(r.header("X-TRACE"), Some("abc"));
        assert_eq!(r.query_param("b"), Some("two words"));
        assert_eq!(r.form_param("code").as_deref(), Some("x+y"));
        assert_eq!(r.form().len(), 2);
    }
}
