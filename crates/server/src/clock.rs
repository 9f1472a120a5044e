//! The server's clock: where the time that credential validity is decided
//! on comes from (client-secret and certificate start/end dates, client
//! assertions' `exp`/`nbf`, their replay window, the app tokens minted from
//! them — issue #4 "expiry is enforced to the second").
//!
//! In production it is the system clock, always: nothing in the
//! configuration, the environment or the HTTP surface can move it. Tests
//! that hold the [`AppState`](crate::AppState) in-process (the in-process
//! `TestServer`) can [`freeze`](Clock::freeze) it at an instant, to check
//! an expiry at exactly 365 days and at 365 days minus one second without
//! waiting a year, and [`resume`](Clock::resume) it afterwards.

use std::sync::{Arc, Mutex, PoisonError};

use time::OffsetDateTime;

/// See the module docs. Cheap to clone; clones share the setting.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    frozen: Arc<Mutex<Option<OffsetDateTime>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Now: the system time, or the instant a test froze the clock at.
    pub fn now(&self) -> OffsetDateTime {
        self.lock().unwrap_or_else(OffsetDateTime::now_utc)
    }

    /// Now, in whole Unix seconds (the precision of JWT time claims).
    pub fn unix_now(&self) -> i64 {
        self.now().unix_timestamp()
    }

    /// Stops the clock at `at` until [`Clock::resume`] (tests only; see
    /// the module docs).
    pub fn freeze(&self, at: OffsetDateTime) {
        *self.frozen.lock().unwrap_or_else(PoisonError::into_inner) = Some(at);
    }

    /// Back to the system time.
    pub fn resume(&self) {
        *self.frozen.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn lock(&self) -> Option<OffsetDateTime> {
        // Holding an `Option<OffsetDateTime>`, a poisoned lock is still
        // consistent.
        *self.frozen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_then_system() {
        let clock = Clock::system();
        let before = OffsetDateTime::now_utc();
        assert!(clock.now() >= before);
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(400);
        let shared = clock.clone();
        shared.freeze(at);
        assert_eq!(clock.now(), at);
        assert_eq!(clock.unix_now(), at.unix_timestamp());
        clock.resume();
        assert!(shared.now() >= before);
    }
}
