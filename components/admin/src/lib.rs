//! The `admin` component: user and session administration, enumerations,
//! the audit trail and kiosk status.

sentinel_spin::component!("admin", sentinel_api::admin_router);
