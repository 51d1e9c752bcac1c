//! Bearer-token auth (constant-time compare) and a query rate limit, so a
//! client can neither read without the token nor starve detection.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use subtle::ConstantTimeEq;

pub struct Token(Vec<u8>);

impl Token {
    pub fn load(path: &Path) -> anyhow::Result<Token> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("api.auth.token_file {}: {e}", path.display()))?;
        let t = text.trim();
        if t.is_empty() {
            anyhow::bail!("api.auth.token_file {}: the file is empty", path.display());
        }
        Ok(Token(t.as_bytes().to_vec()))
    }

    #[cfg(test)]
    pub fn new(t: &str) -> Token {
        Token(t.as_bytes().to_vec())
    }

    /// Constant time in the content (the length of a secret is not the secret).
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.len() == presented.len() && bool::from(self.0.as_slice().ct_eq(presented))
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Clone)]
pub struct Guard {
    token: Option<Arc<Token>>,
    /// Requests per second on /v1/ endpoints; 0 = unlimited.
    rate: u32,
    bucket: Arc<Mutex<Bucket>>,
}

impl Guard {
    pub fn new(token: Option<Arc<Token>>, rate: u32) -> Guard {
        Guard {
            token,
            rate,
            bucket: Arc::new(Mutex::new(Bucket {
                tokens: rate as f64,
                last: Instant::now(),
            })),
        }
    }

    fn allow(&self) -> bool {
        if self.rate == 0 {
            return true;
        }
        let Ok(mut b) = self.bucket.lock() else {
            return true;
        };
        let now = Instant::now();
        let refill = now.duration_since(b.last).as_secs_f64() * self.rate as f64;
        b.tokens = (b.tokens + refill).min(self.rate as f64);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn deny(status: StatusCode, msg: &str) -> Response {
    let mut r = (status, Json(serde_json::json!({"error": msg}))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    r
}

pub async fn check(State(g): State<Guard>, req: Request, next: Next) -> Response {
    if let Some(token) = &g.token {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .unwrap_or(&[]);
        if !token.matches(presented) {
            return deny(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        }
    }
    if req.uri().path().starts_with("/v1/") && !g.allow() {
        return deny(
            StatusCode::TOO_MANY_REQUESTS,
            "query rate limit exceeded; retry later",
        );
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_compare() {
        let t = Token::new("s3cret");
        assert!(t.matches(b"s3cret"));
        assert!(!t.matches(b"s3cres"));
        assert!(!t.matches(b"s3cret "));
        assert!(!t.matches(b""));
    }

    #[test]
    fn rate_limit_refuses_past_the_budget() {
        let g = Guard::new(None, 5);
        let allowed = (0..20).filter(|_| g.allow()).count();
        assert_eq!(allowed, 5);
        assert!(Guard::new(None, 0).allow());
    }
}
