//! Sentinel's domain: validated value types and pure business rules.
//!
//! Nothing here knows about Spin, HTTP or SQL, so every rule compiles and is
//! unit-tested natively.

pub mod division;
pub mod role;
pub mod time;
pub mod uuid;
pub mod validation;

pub use role::Role;
pub use validation::{Issue, Issues};
