//! The integration tests of the `statkit` library, as one test binary
//! (`alloc.rs` stays its own: it installs a counting global allocator).
//! Each module is one area; its tests run alone with
//! `cargo test -p statkit --test library NAME::`.

mod pipe;
mod roundtrip;
mod shm;
mod statsd_recorder;
mod tcp;
mod udp;
mod unix;
