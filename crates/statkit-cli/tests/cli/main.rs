//! The integration tests of the `statkit` command, as one test binary so
//! that the shared harness (`util`) compiles once. Each module is one area;
//! its tests run alone with `cargo test -p statkit-cli --test cli NAME::`.

mod util;

mod bench;
mod clients;
mod conformance;
mod control;
mod dashboard;
mod described;
mod durability;
mod etsy_compat;
mod expiry;
mod gstats_wire;
mod gunicorn_requests;
mod hostile_files;
mod http;
mod mapping;
mod mmash;
mod munin;
mod operator;
mod packaging;
mod pipes;
mod processes;
mod prometheus;
mod readme;
mod requests;
mod scale_out;
mod send;
mod serve;
mod serve_cli;
mod settings;
mod shm;
mod shm_growth;
mod state;
