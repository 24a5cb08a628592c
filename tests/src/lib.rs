//! Cross-crate scenarios for Stanchion.
//!
//! Each file in `tests/tests/` drives several crates together through the `stanchion` facade with
//! every feature on, the way a program would: a hook run that trips a breaker and publishes on the
//! bus, a pipeline validated by the DAG crate and persisted by the store. Behaviour of one crate alone
//! is tested in that crate. Helpers the scenarios share live in this library.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
