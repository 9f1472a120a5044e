//! TODO(#2): being written.
