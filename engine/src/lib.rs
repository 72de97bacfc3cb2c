//! planrun's engine: runs checked plans against Docker Swarm, PostgreSQL and Prometheus,
//! and the `planrun` command line.

pub mod cli;
pub mod load;
