//! The `visitors` component: visitor sign-in and sign-out, with temporary badges.

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("visitors", &sentinel_api::visitors_router(), req, response_out).await
}
