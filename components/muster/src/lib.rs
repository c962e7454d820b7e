//! The `muster` component: evacuation roll calls.

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("muster", &sentinel_api::muster_router(), req, response_out).await
}
