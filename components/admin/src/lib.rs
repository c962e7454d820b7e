//! The `admin` component: user and session administration, enumerations,
//! the audit trail and kiosk status.

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("admin", &sentinel_api::admin_router(), req, response_out).await
}
