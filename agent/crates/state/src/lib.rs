//! saker-state: the process tree, per-process fd tables and the event view
//! that gives every Falco field a value for a live event.
//!
//! The capture loop calls [`State::apply`] for each record, in order, then
//! evaluates rules against [`State::view`] of the same record (a view
//! describes the record just applied: the fd a `close` removed, the enter
//! half of an exec, are kept only until the next `apply`):
//!
//! ```no_run
//! # use saker_state::{State, StateConfig};
//! let mut state = State::new(StateConfig::default()); // or State::with_lookup(cfg, lookup)
//! state.scan_proc(); // seed from /proc once, before reading the ring buffer
//! # let bytes: &[u8] = &[];
//! let rec = saker_abi::Record::parse(bytes).unwrap();
//! state.apply(&rec);
//! let view = state.view(&rec); // implements saker_filter::FieldSource
//! # let _ = view.describe();
//! ```
//!
//! Module map: [`decode`] (typed arguments), [`flags`] and [`names`] (Falco
//! renderings), [`path`] (cwd/dirfd resolution), [`process`] (the table,
//! ancestry, reaping, cap), [`fd`] (fd tables), [`procfs`] (the /proc scan
//! and fallbacks), [`sys`] (syscall number to meaning), `apply`/`exec`
//! (updates), `view`/`render`/[`fields`] (extraction), [`lookup`] (the
//! container boundary; `runtime` implements it with saker-container under
//! the `container` feature), [`clock`] (boot time to wall clock).
//!
//! Rules should be evaluated on exit-side records only (SYSCALL,
//! SYSCALL_EXIT, CLONE_CHILD, PROC_EXIT): Falco's `spawned_process` is just
//! `evt.type in (execve, execveat)`, and the enter half still carries the
//! old image.

pub mod apply;
pub mod clock;
pub mod decode;
pub mod describe;
mod exec;
pub mod fd;
pub mod fields;
pub mod flags;
pub mod lookup;
pub mod names;
pub mod path;
pub mod process;
pub mod procfs;
mod render;
#[cfg(feature = "container")]
pub mod runtime;
mod state;
pub mod sys;
mod view;

pub use clock::Clock;
pub use fd::{FdInfo, FdTable, FdType, L4Proto};
pub use lookup::{ContainerField, ContainerLookup, HostOnly, MetaValue};
pub use process::{Process, ProcessTable, TableStats};
#[cfg(feature = "container")]
pub use runtime::RuntimeLookup;
pub use state::{State, StateConfig, Stats};
pub use view::EventView;

/// Errors from the few fallible entry points.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("malformed record: {0}")]
    Wire(saker_abi::WireError),
}

#[cfg(test)]
mod tests;
