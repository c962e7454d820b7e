//! The `badges` component: badges and their assignment.

sentinel_spin::component!("badges", sentinel_api::badges_router);
