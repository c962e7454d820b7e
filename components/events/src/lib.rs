//! The `events` component: events, their attendees and event badges, and event-badge scans.

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("events", &sentinel_api::events_router(), req, response_out).await
}
