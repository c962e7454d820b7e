//! The `checkins` component: check-ins, scans, offline sync and presence.

sentinel_spin::component!("checkins", sentinel_api::checkins_router);
