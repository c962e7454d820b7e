//! The `events` component: events, their attendees and event badges, and event-badge scans.

sentinel_spin::component!("events", sentinel_api::events_router);
