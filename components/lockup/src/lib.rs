//! The `lockup` component: the Lockup responsibility and the general member tags.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("lockup", &sentinel_api::lockup_router(), req)
}
