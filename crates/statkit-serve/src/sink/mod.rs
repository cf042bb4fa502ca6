//! Where flushes go. Each sink runs as its own task behind a bounded
//! [`Queue`], so a slow or dead sink only ever delays itself.

pub(crate) mod console;
pub(crate) mod graphite;
pub(crate) mod queue;
pub(crate) mod store;

pub(crate) use queue::Queue;
