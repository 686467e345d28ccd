//! `voip-shared`: the contract both the appliance and the cloud compile against.
//!
//! Nothing in this crate performs I/O or reads the clock: every function that
//! needs the current time takes it as an argument.
#![forbid(unsafe_code)]

pub mod call;
pub mod contact;
pub mod error;
pub mod i18n;
pub mod mqtt;
pub mod number;
pub mod pii;
pub mod quality;
pub mod site_config;
