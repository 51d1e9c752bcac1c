//! CRI lifecycle calls for tests (filled below).
