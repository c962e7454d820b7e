//! The `dds` component: DDS — Duty Day Staff (today's assignment; the Lockup responsibility follows it).

sentinel_spin::component!("dds", sentinel_api::dds_router);
