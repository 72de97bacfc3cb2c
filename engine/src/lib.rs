//! planrun's engine: runs checked plans against Docker Swarm, PostgreSQL and Prometheus,
//! and the `planrun` command line.
//!
//! Invariants: only this crate knows bollard, reqwest and terminals; every wait uses tokio's
//! clock; a step records how to undo itself before it changes anything.

pub mod cli;
pub mod cluster;
pub mod convergence;
pub mod events;
pub mod executor;
pub mod gates;
pub mod journal;
pub mod load;
pub mod lock;
pub mod steps;
