//! The `muster` component: evacuation roll calls.

sentinel_spin::component!("muster", sentinel_api::muster_router);
