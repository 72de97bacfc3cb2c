//! Gates at run time: the analysis loop (`analysis.rs`) and one file per kind that takes a
//! single measurement.

pub mod analysis;
pub mod command;
pub mod http;
pub mod prometheus;
pub mod swarm;
