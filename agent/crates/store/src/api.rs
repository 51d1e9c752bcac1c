//! axum router (filled in later).
