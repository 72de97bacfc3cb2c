//! The real swarm over bollard (being written).
