//! The `alerts` component: security alerts.

sentinel_spin::component!("alerts", sentinel_api::alerts_router);
