//! The `members` component: Members and divisions.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("members", &sentinel_api::members_router(), req)
}
