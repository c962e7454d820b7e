//! The `platform` component: Health, readiness, liveness, API docs, and the 404 fallback for unclaimed paths.

sentinel_spin::component!("platform", sentinel_api::platform::router);
