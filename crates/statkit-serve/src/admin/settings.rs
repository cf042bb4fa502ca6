//! The admin port's settings.

use crate::settings::{declare, Setting};

declare! {
    ADMIN: String = Setting::new(
        "admin",
        "127.0.0.1:8126",
        "Address of the etsy-compatible admin port",
    )
    .value_name("ADDR");
}
