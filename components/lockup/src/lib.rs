//! The `lockup` component: the Lockup responsibility and the general member tags, who is inside, the
//! end-of-day lockup and the building's status.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("lockup", &sentinel_api::lockup_router(), req)
}
