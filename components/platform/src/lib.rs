//! The `platform` component: Health, readiness, liveness, API docs, and the 404 fallback for unclaimed paths.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("platform", &sentinel_api::platform::router(), req)
}
