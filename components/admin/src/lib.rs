//! The `admin` component: user and session administration, enumerations,
//! the audit trail and kiosk status.

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("admin", &sentinel_api::admin_router(), req)
}
