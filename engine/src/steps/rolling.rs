//! Rolling updates at run time (being written).
