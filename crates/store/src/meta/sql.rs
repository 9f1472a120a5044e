//! SQL adapter (being written, #2).
/// The SQL metadata store (SQLite or PostgreSQL).
pub struct SqlMetaStore;
