//! The `members` component: Members and divisions.

sentinel_spin::component!("members", sentinel_api::members_router);
