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
//! by name at evaluation time, and evaluating a filter without transformers
//! does not allocate.
//!
//! Semantics (libsinsp's unless noted):
//! - precedence `not` > `and` > `or`; `not(`, `and(`, `or(` need no blank;
//! - a missing field makes a comparison false, so `not` of it is true;
//! - a field with several values (ancestors, `fd.port`, lists) matches when
//!   any value satisfies the comparison; only for list-typed fields
//!   (`k8s.pod.labels`) does `in` require every value (`intersects`: any);
//! - `regex` is a full match; `glob` is fnmatch without `FNM_PATHNAME`;
//!   `bcontains`/`bstartswith` take hex; `pmatch` matches whole path
//!   components;
//! - list modifiers on string operators (Falco 0.44): `contains anyof (a,
//!   b)` (some item matches), `allof` (every item), `oneof` (exactly one),
//!   each item counted on its own; an empty list never matches;
//! - transformers `tolower`, `toupper`, `b64`, `basename`, `len`, and
//!   libsinsp's multi-value ones: `concat(a, "-", b)` (two or more single
//!   strings), `join(sep, list)`, `getopt(argv_list, "optstring")` with an
//!   optional `[c]` selector; list literals `("-n", field)` as their
//!   arguments; `val(field)` on the right-hand side.

pub mod ast;
pub mod compile;
pub mod fields;
pub mod output;
pub mod parser;

pub use compile::{compile, CompileError, Env, EvtTypes, Filter, Memo, SlotTable};
pub use fields::{FieldRef, FieldSource, SyntheticEvent, Value, Values};
pub use output::{compile_format, OutputError, OutputFormat};
pub use parser::{parse, ParseError};
