//! Sans-IO SIP (RFC 3261 and friends). Nothing here touches a socket or reads
//! the clock: callers pass `now` in and drain outputs.
#![forbid(unsafe_code)]
pub mod auth;
