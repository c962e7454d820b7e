//! The `visitors` component: visitor sign-in and sign-out, with temporary badges.

sentinel_spin::component!("visitors", sentinel_api::visitors_router);
