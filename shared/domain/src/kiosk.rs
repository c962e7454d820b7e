//! Kiosks.

/// A kiosk counts as online while a heartbeat or an authenticated request of its key was seen within
/// this many seconds. Used by `GET /api/kiosks`, the heartbeat and the relay's offline sweep.
pub const ONLINE_WINDOW_SECS: i64 = 90;
