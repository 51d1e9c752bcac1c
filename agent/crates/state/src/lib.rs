//! saker-state: the process tree, per-process fd tables and the event view
//! that gives every Falco field a value for a live event.
//!
//! The capture loop calls [`State::apply`] for each record, in order, then
//! evaluates rules against [`State::view`] of the same record:
//!
//! ```no_run
//! # use saker_state::{State, StateConfig};
//! let mut state = State::new(StateConfig::default());
//! state.scan_proc();
//! # let bytes: &[u8] = &[];
//! let rec = saker_abi::Record::parse(bytes).unwrap();
//! state.apply(&rec);
//! let view = state.view(&rec);
//! // view implements saker_filter::fields::FieldSource
//! ```

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
