//! `voip-appliance`: sans-IO cores for the office appliance plus the thin
//! tokio daemon that wires them to sockets, files and timers.
#![deny(unsafe_code)]

pub mod config;
pub mod daemon;
pub mod engine;
pub mod media_relay;
pub mod pbx;
pub mod recording;
pub mod routing;
pub mod sd_notify;
pub mod secrets;
pub mod selftest;
pub mod sip_resolve;
pub mod sip_transport;
pub mod store;
