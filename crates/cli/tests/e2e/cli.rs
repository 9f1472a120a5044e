//! Tests being written (#2).
