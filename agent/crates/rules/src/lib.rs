//! The Falco rules language: files in, a compiled evaluator out.
//!
//! The pipeline mirrors Falco's engine:
//!
//! ```text
//! loader (reader: YAML → items with positions; collector: override/append,
//!         enabled, exceptions, list inlining)  ──► model::Collected
//! engine (macro visibility, saker_filter compile per rule, output formats,
//!         evt.type index, rule_matching, priority threshold)  ──► engine::Engine
//! ```
//!
//! Field values come from saker_filter's `FieldSource` trait, implemented by
//! the agent's state tables for live events and by synthetic events in tests.

pub mod diag;
pub mod loader;
pub mod model;

/// The Falco engine version whose rules language we implement. Rules files
/// requiring a newer minor (or another major) are refused.
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 57, 0);
