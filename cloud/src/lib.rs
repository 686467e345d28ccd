//! `voip-cloud`: the cloud side. `app(state)` builds the HTTP router so tests
//! drive it without a socket.
#![forbid(unsafe_code)]

use axum::{Json, Router, routing::get};
use serde::Serialize;

/// Shared state of the HTTP application.
#[derive(Debug, Clone, Default)]
pub struct AppState {}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Builds the cloud's HTTP router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    #[tokio::test]
    async fn healthz_answers_ok() {
        let response = super::app(super::AppState::default())
            .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
