//! planrun's engine: runs checked plans against Docker Swarm, PostgreSQL and Prometheus,
//! and the `planrun` command line.
//!
//! Invariants: only this crate knows bollard, reqwest and terminals (and of it, only `cli`
//! knows terminals); every wait uses tokio's clock; a step records how to undo itself before
//! it changes anything; everything outside the cluster (gates, commands, people) is reached
//! through a seam with a simulated twin (`simulation`).

pub mod allocator;
pub mod approval;
pub mod cause;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod context;
pub mod database;
pub mod events;
pub mod executor;
pub mod gates;
pub mod history;
pub mod journal;
pub mod load;
pub mod lock;
pub mod notify;
pub mod plan;
pub mod preflight;
pub mod private;
pub mod redact;
pub mod repair;
pub mod run_state;
pub mod services;
pub mod session;
pub mod simulation;
pub mod status;
pub mod steps;
pub mod undo;
pub mod watch;
