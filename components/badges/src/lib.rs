//! The `badges` component: badges and their assignment.

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("badges", &sentinel_api::badges_router(), req, response_out).await
}
