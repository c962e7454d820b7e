//! The `checkins` component: check-ins, scans, offline sync and presence.

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("checkins", &sentinel_api::checkins_router(), req, response_out).await
}
