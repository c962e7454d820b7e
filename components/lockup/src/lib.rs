//! The `lockup` component: the Lockup responsibility and the general member tags, who is inside, the
//! end-of-day lockup and the building's status.

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("lockup", &sentinel_api::lockup_router(), req, response_out).await
}
