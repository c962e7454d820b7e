//! The `checkins` component: check-ins, scans, offline sync and presence.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("checkins", &sentinel_api::checkins_router(), req)
}
