//! saker-store: every alert, durable and queryable.
