//! The `auth` component: sign-in, sessions, RFID login and API keys.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("auth", &sentinel_api::auth_router(), req)
}
