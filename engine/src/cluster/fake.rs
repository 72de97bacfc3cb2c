//! In-memory fake cluster (being written).
