//! The `lockup` component: the Lockup responsibility and the general member tags, who is inside, the
//! end-of-day lockup and the building's status.

sentinel_spin::component!("lockup", sentinel_api::lockup_router);
