//! The `platform` component: Health, readiness, liveness, API docs, and the 404 fallback for unclaimed paths.

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("platform", &sentinel_api::platform::router(), req, response_out).await
}
