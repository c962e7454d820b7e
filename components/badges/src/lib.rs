//! The `badges` component: badges and their assignment.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("badges", &sentinel_api::badges_router(), req)
}
