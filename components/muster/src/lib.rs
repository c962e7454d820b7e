//! The `muster` component: evacuation roll calls.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("muster", &sentinel_api::muster_router(), req)
}
