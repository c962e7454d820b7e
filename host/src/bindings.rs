//! Host-side bindings for the Spin interfaces (generated from the WIT copied from spin-sdk 5.2.0).

wasmtime::component::bindgen!({
    path: "wit",
    world: "sentinel:host/sentinel-host",
    imports: { default: async | trappable },
    additional_derives: [PartialEq],
    with: {
        "fermyon:spin/redis.connection": crate::redis_host::RedisConnection,
        "spin:postgres/postgres.connection": crate::pg::PgConnection,
    },
});

pub use fermyon::spin::redis;
pub use fermyon::spin::variables;
pub use spin::postgres::postgres;
pub use wasi::config::store as config_store;
