//! saker-filter: the Falco condition language.
//!
//! ```text
//! text ──parser::parse──► ast::Expr ──compile::compile(env)──► compile::Filter
//!                                      (macros, lists, fields,     .matches(&src)
//!                                       typed RHS, matchers)       .evt_types()
//! output format ──output::compile_format──► OutputFormat .render_text(&src)
//! ```
//!
//! Field values come from a [`fields::FieldSource`]; nothing looks a field up
//! by name at evaluation time.

pub mod ast;
pub mod compile;
pub mod fields;
pub mod output;
pub mod parser;

pub use compile::{compile, CompileError, Env, EvtTypes, Filter};
pub use fields::{FieldRef, FieldSource, SyntheticEvent, Value, Values};
pub use output::{compile_format, OutputError, OutputFormat};
pub use parser::{parse, ParseError};
