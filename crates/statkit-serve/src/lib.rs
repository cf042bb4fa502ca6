//! `statkit serve` as a library: a statsd server with etsy statsd 0.9's
//! aggregation, Graphite and console sinks, etsy's admin port, an HTTP
//! server (dashboard, Prometheus, JSON API), and readers of shared-memory
//! stats files, statvent's pipes and gstats' request hooks.
//!
//! The server is a function of its configuration, its already-bound
//! sockets and a shutdown future: [`Listeners::bind`] then [`run`]. Binding
//! first lets callers (and tests, with port 0) learn the real addresses.
//! The configuration comes from [`config::layers`]: every setting is
//! declared once ([`settings`]).
//!
//! Inside, data flows one way:
//!
//! ```text
//! source::datagram (UDP/Unix threads) ─┐
//! source::tcp (async connections) ─────┼─> pipeline::Intake ─> Pipeline ─> flush (thread)
//! source::files (scanner thread) ──────┘   (one table each)     │ Arc<Snapshot>
//!                                                               ├─> sink queues ─> graphite, console, store
//! admin, http, requests (read, delete) ─────────────────────────┘
//! ```

mod admin;
mod allow;
mod checkpoint;
pub mod config;
mod files;
mod flush;
mod http;
pub mod listeners;
mod pipeline;
mod prometheus;
pub mod requests;
mod server;
pub mod settings;
mod sink;
mod source;
mod status;
mod store;
mod support;
#[cfg(test)]
mod testing;

use std::future::Future;

pub use config::{Config, ConfigError};
pub use listeners::{BindError, Listeners};
pub use prometheus::settings::{load as load_mapping, store_bounds};
pub use settings::Settings;
pub use store::dir::{StateDir, StateDirError};

use server::{Running, Server};

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("cannot start a receiver thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("cannot use a listening socket: {0}")]
    Socket(#[source] std::io::Error),
}

/// Runs the server until `shutdown` completes, then stops receiving, makes
/// a final flush to every sink and waits (a bounded time) for the sinks to
/// deliver it.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let Listeners {
        udp,
        tcp,
        admin,
        admin_socket,
        http,
        load,
        statvent,
        unix,
        gstats,
    } = listeners;
    let scans = Server::scans(&config);
    let udp_inodes = udp.iter().filter_map(source::kernel::inode).collect();
    // One intake per UDP socket, the Unix socket, TCP, the scanner.
    let wanted = udp.len() + usize::from(unix.is_some()) + 1 + usize::from(scans);
    let (mut server, mut intakes) = Server::new(config, wanted, udp_inodes);
    let mut running = Running::default();

    server.start_sinks();
    server.start_state(&mut running)?;
    let mut datagrams: Vec<(String, Box<dyn std::os::fd::AsRawFd + Send>, _)> = Vec::new();
    for (i, socket) in udp.into_iter().enumerate() {
        datagrams.push((
            format!("statkit-udp-{i}"),
            Box::new(socket),
            intakes.remove(0),
        ));
    }
    if let Some((socket, _)) = unix {
        datagrams.push(("statkit-unix".into(), Box::new(socket), intakes.remove(0)));
    }
    server.start_datagrams(datagrams, &mut running)?;
    server.start_tcp(tcp, intakes.remove(0), &mut running)?;
    if scans {
        server.start_scanner(intakes.remove(0), &mut running)?;
    }
    server.start_admin(admin, admin_socket, &mut running)?;
    server.start_gstats(gstats, &mut running);
    server.start_http([http, load, statvent], &mut running)?;
    server.start_flusher(&mut running)?;

    server.wait(shutdown).await;
    server.stop(running).await;
    Ok(())
}
