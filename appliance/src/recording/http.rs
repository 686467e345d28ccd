//! The local recording command on the appliance's HTTP server (health and
//! metrics):
//!
//! - `GET /calls`: `{"calls": ["<call_id>", …]}`, the calls whose media
//!   runs now (ids as in the CDR and the recordings index);
//! - `POST /calls/{call_id}/recording` with `{"action": "start"}` or
//!   `{"action": "stop"}`: starts (after the consent announcement when the
//!   policy asks for it) or stops the call's recording.
//!
//! Loopback only, no authentication: a request from any other address is
//! answered 403 whatever it asks. The server may listen on every address
//! for `/healthz` and `/metrics`; these routes are for local tools and the
//! uplink (MQTT commands arrive with the uplink issue). Answers:
//! 200 `{"recording": true|false}`; 404 no such call; 409 refused (policy
//! `never`, already recording, not recording, or a call that cannot be
//! recorded such as the echo test); 422 a bad body; 503 the engine stopped.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::engine::{EngineHandle, RecordingAnswer};
use crate::media_relay::record_tap::RecordingCommand;

/// The body of `POST /calls/{call_id}/recording`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    action: Action,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Action {
    Start,
    Stop,
}

#[derive(Debug, Serialize)]
struct Calls {
    calls: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Done {
    recording: bool,
}

#[derive(Debug, Serialize)]
struct Problem {
    error: &'static str,
    detail: String,
}

fn problem(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Response {
    (
        status,
        Json(Problem {
            error,
            detail: detail.into(),
        }),
    )
        .into_response()
}

fn forbidden() -> Response {
    problem(
        StatusCode::FORBIDDEN,
        "recording.command_not_local",
        "recording commands are accepted from the loopback interface only",
    )
}

/// The routes; the server must be served with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router<S>(engine: EngineHandle) -> Router<S> {
    Router::new()
        .route("/calls", get(calls))
        .route("/calls/{call_id}/recording", post(recording))
        .with_state(engine)
}

async fn calls(
    State(engine): State<EngineHandle>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if !peer.ip().is_loopback() {
        return forbidden();
    }
    match engine.active_calls().await {
        Some(calls) => Json(Calls { calls }).into_response(),
        None => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "engine.stopped",
            "the engine has stopped",
        ),
    }
}

async fn recording(
    State(engine): State<EngineHandle>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(call_id): Path<String>,
    body: Result<Json<Body>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if !peer.ip().is_loopback() {
        return forbidden();
    }
    let Json(body) = match body {
        Ok(b) => b,
        Err(rejection) => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "recording.bad_command",
                rejection.body_text(),
            );
        }
    };
    let (command, recording) = match body.action {
        Action::Start => (RecordingCommand::Start, true),
        Action::Stop => (RecordingCommand::Stop, false),
    };
    match engine.recording(&call_id, command).await {
        Some(RecordingAnswer::Done) => {
            tracing::info!(%call_id, ?command, "recording command");
            Json(Done { recording }).into_response()
        }
        Some(RecordingAnswer::Refused(refused)) => problem(
            StatusCode::CONFLICT,
            "recording.command_refused",
            refused.to_string(),
        ),
        Some(RecordingAnswer::NoSuchCall) => problem(
            StatusCode::NOT_FOUND,
            "recording.no_such_call",
            "no call with media has this id",
        ),
        None => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "engine.stopped",
            "the engine has stopped",
        ),
    }
}
