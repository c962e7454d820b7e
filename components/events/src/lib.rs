//! The `events` component: events, their attendees and event badges, and event-badge scans.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("events", &sentinel_api::events_router(), req)
}
