//! The `dds` component: DDS — Duty Day Staff (today's assignment; the Lockup responsibility follows it).

#[spin_sdk::http_component]
async fn handle(req: spin_sdk::http::IncomingRequest, response_out: spin_sdk::http::ResponseOutparam) {
    sentinel_spin::handle("dds", &sentinel_api::dds_router(), req, response_out).await
}
