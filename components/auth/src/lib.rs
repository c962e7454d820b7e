//! The `auth` component: sign-in, sessions, RFID login and API keys.

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("auth", &sentinel_api::auth_router(), req, response_out).await
}
