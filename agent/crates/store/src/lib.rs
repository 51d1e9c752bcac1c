//! saker-store: every alert, durable and queryable, and the runtime gate
//! verdict built from it.
//!
//! - [`Store`] / [`StoreWriter`]: the embedded SQLite store (see `store` for
//!   why SQLite and what "acknowledged" means).
//! - [`Query`] / [`GateRequest`]: query-string parsing, errors naming the parameter.
//! - [`gate`]: the `/v1/gate/runtime` verdict and the fan-out merge;
//!   [`CoverageTracker`] records what the pipeline can vouch for.
//! - [`api`]: an axum router serving `/v1/alerts` and `/v1/gate/runtime`.

pub mod alert;
pub mod api;
pub mod coverage;
pub mod error;
pub mod gate;
pub mod query;
pub mod store;
pub mod timefmt;

pub use alert::{AlertParseError, AlertRecord, Priority, StoredAlert};
pub use coverage::CoverageTracker;
pub use error::{Dropped, StoreError};
pub use gate::{
    merge_verdicts, runtime_verdict, AgentAnswer, AgentStop, AttachInterval, Coverage, DropReport,
    GateContext, RuntimeVerdict, Summary,
};
pub use query::{Cursor, GateRequest, ParamError, Query};
pub use store::{
    reset, AckWatch, CommitInfo, GateAlert, GateWindow, QueryPage, ResetMode, ResetReport,
    RetentionReport, Store, StoreConfig, StoreStats, StoreWriter,
};
