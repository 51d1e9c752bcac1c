//! saker-filter: the Falco condition language.
