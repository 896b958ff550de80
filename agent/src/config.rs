//! Store config.
