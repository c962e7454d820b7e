//! The `dds` component: DDS — Duty Day Staff (today's assignment; the Lockup responsibility follows it).

#[spin_sdk::http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    sentinel_spin::handle("dds", &sentinel_api::dds_router(), req)
}
