//! End-to-end tests of the planrun binary.
