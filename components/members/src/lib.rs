//! The `members` component: Members and divisions.

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("members", &sentinel_api::members_router(), req, response_out).await
}
