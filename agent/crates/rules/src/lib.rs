//! The Falco rules language: files in, a compiled evaluator out.
//!
//! The pipeline mirrors Falco's engine:
//!
//! ```text
//! loader (reader: YAML → items with positions; collector: override/append,
//!         enabled, exceptions, list inlining)  ──► model::Collected
//! condition (lexer, parser → ast::Expr)
//! compile  (macro/list expansion, field resolution, typed plan, evt.type index)
//!                                              ──► engine::Engine
//! output   (format strings compiled once per rule)
//! ```
//!
//! Field values come from the [`fields::FieldSource`] trait, implemented by the
//! agent's state tables for live events and by synthetic events in tests.

pub mod model;
