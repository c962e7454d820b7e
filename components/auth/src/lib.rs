//! The `auth` component: sign-in, sessions, RFID login and API keys.

sentinel_spin::component!("auth", sentinel_api::auth_router);
