//! Who may read the dashboard: the token from `--auth-token-file`, demanded
//! of every request when there is one.

use super::{Shared, MIN_TOKEN_LEN};
use anyhow::Context;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub(super) fn read_token(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --auth-token-file {}", path.display()))?;
    let token = text.trim_end_matches(['\n', '\r']).to_string();
    if token.len() < MIN_TOKEN_LEN || token.contains(char::is_whitespace) {
        anyhow::bail!(
            "--auth-token-file {}: the token must be at least {MIN_TOKEN_LEN} characters, without spaces",
            path.display()
        );
    }
    Ok(token)
}

/// Refuses requests without the token, when there is one.
pub(super) async fn authorize(
    State(app): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(token) = &app.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(presented_token);
    if given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "this dashboard needs its token: `Authorization: Bearer TOKEN`, or basic auth with the token as password\n",
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"aisle dashboard\", charset=\"UTF-8\""),
    );
    response
}

/// The token in an `Authorization` header: a bearer token, or the password
/// of basic auth (any user name).
fn presented_token(value: &str) -> Option<String> {
    use base64::Engine as _;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some(token.trim().to_string());
    }
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_string())
}

/// Compares secrets in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_bearer_token_or_a_basic_auth_password() {
        assert_eq!(presented_token("Bearer abc").as_deref(), Some("abc"));
        // "hq:s3cret" in base64.
        assert_eq!(
            presented_token("Basic aHE6czNjcmV0").as_deref(),
            Some("s3cret")
        );
        assert_eq!(presented_token("Basic !!"), None);
        assert_eq!(presented_token("Digest x"), None);
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }
}
