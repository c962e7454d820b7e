//! The `alerts` component: security alerts.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("alerts", &sentinel_api::alerts_router(), req)
}
