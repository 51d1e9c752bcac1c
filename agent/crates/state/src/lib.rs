//! saker-state
