//! Sentinel's domain: validated value types and pure business rules.
//!
//! Nothing here knows about Spin, HTTP or SQL, so every rule compiles and is
//! unit-tested natively.

pub mod badge;
pub mod checkin;
pub mod division;
pub mod event;
pub mod kiosk;
pub mod member;
pub mod role;
pub mod time;
pub mod uuid;
pub mod validation;

pub use role::Role;
pub use validation::{Issue, Issues};
