//! saker: the userspace agent.
//!
//! Data flows kernel → [`capture`] → state (`saker-state`) → rules
//! (`saker-rules`, `saker-filter`) → alerts → outputs, store (`saker-store`)
//! and api. The command-line front ends live in [`cli`].

pub mod agent;
pub mod alerts;
pub mod api;
pub mod capture;
pub mod cli;
pub mod metrics;
pub mod pipeline;
