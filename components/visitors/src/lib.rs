//! The `visitors` component: visitor sign-in and sign-out, with temporary badges.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("visitors", &sentinel_api::visitors_router(), req)
}
