//! The `alerts` component: security alerts.

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("alerts", &sentinel_api::alerts_router(), req, response_out).await
}
