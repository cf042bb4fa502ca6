//! `statkit serve` as a library: a statsd server with etsy statsd 0.9's
//! aggregation, Graphite and console sinks, etsy's admin port, and an HTTP
//! server (health now; the dashboard and APIs build on it).
//!
//! The server is a function of its configuration, its already-bound
//! sockets and a shutdown future: [`Listeners::bind`] then [`run`]. Binding
//! first lets callers (and tests, with port 0) learn the real addresses.
//!
//! Inside, data flows one way:
//!
//! ```text
//! source::datagram (UDP/Unix threads) ─┐
//! source::tcp (async connections) ─────┼─> Table per receiver ─> flush (thread) ─> Aggregator::flush
//!                                      │                                              │ Arc<Snapshot>
//! admin (reads and deletes) ───────────┤                                 sink::Queue per sink ─> graphite, console
//! http (reads) ────────────────────────┘
//! ```

mod admin;
mod allow;
pub mod config;
mod flush;
mod http;
pub mod listeners;
mod persist;
pub mod requests;
mod sink;
mod source;
mod state;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use statkit_agg::Table;
use statkit_encode::graphite::Names;
use tokio::sync::watch;

pub use config::{Config, ConfigError, RawConfig};
pub use listeners::{BindError, Listeners};

use sink::Queue;
use state::Shared;

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
    let started = state::unix_now();
    let table = || Arc::new(Mutex::new(Table::new(config.aggregation.table)));
    let udp_tables: Vec<_> = listeners.udp.iter().map(|_| table()).collect();
    let tcp_table = table();
    let unix_table = listeners.unix.as_ref().map(|_| table());
    let scanned = source::files::Folders {
        stats: config.stats_dir.clone(),
        pipes: config.pipe_scan.then(|| config.pipes.clone()),
    };
    let files_table = (scanned.stats.is_some() || scanned.pipes.is_some()).then(table);

    let (mut queues, mut sinks) = start_sinks(&config, started);
    // The history store serves HTTP and fills the state file: with
    // neither, no store.
    let store_queue =
        (listeners.http.is_some() || listeners.load.is_some() || config.state.is_some())
            .then(|| Arc::new(Queue::new("store".into(), config.sink_queue)));
    queues.extend(store_queue.clone());
    let tables = udp_tables
        .iter()
        .chain([&tcp_table])
        .chain(unix_table.iter())
        .chain(files_table.iter())
        .cloned()
        .collect();
    let udp_inodes = listeners
        .udp
        .iter()
        .filter_map(source::kernel::inode)
        .collect();
    let shared = Arc::new(Shared::new(config, tables, queues, started, udp_inodes));
    if let Some(queue) = store_queue {
        sinks.push(tokio::spawn(sink::store::run(queue, shared.clone())));
    }
    let state_file = shared.config.state.clone();
    if let Some(file) = &state_file {
        // Before the first flush, so restored gauges are in it.
        persist::load(&shared, file);
    }

    let stop_receiving = Arc::new(AtomicBool::new(false));
    let mut receivers = start_receivers(
        &shared,
        listeners.udp,
        udp_tables,
        listeners.unix.map(|(s, _)| s),
        unix_table,
        &stop_receiving,
    )?;
    if let Some(table) = files_table {
        let interval = Duration::from_secs_f64(shared.config.stats_scan_interval);
        let scanner = source::files::start(scanned, interval, table, stop_receiving.clone());
        receivers.push(scanner.map_err(ServeError::Thread)?);
    }
    let unix_path = shared.config.unix_socket.clone();

    let (stop_tx, stop_rx) = watch::channel(false);
    let tcp = tokio::net::TcpListener::from_std(nonblocking(listeners.tcp)?)
        .map_err(ServeError::Socket)?;
    let tcp_task = tokio::spawn(source::tcp::serve(
        tcp,
        tcp_table,
        shared.config.max_datagram,
        shared.config.tcp_max_connections,
        shared.tcp_refused.clone(),
        stop_rx.clone(),
    ));
    let admin = tokio::net::TcpListener::from_std(nonblocking(listeners.admin)?)
        .map_err(ServeError::Socket)?;
    let admin_task = tokio::spawn(admin::serve(admin, shared.clone(), stop_rx.clone()));
    let gstats_tasks = listeners.gstats.spawn(&shared, &stop_rx);
    let limits = http::Limits::default();
    let mut http_tasks = Vec::new();
    let routers = [
        (listeners.http, http::router(shared.clone(), limits)),
        (listeners.load, http::load_router(shared.clone(), limits)),
        (
            listeners.statvent,
            http::statvent_router(shared.clone(), limits),
        ),
    ];
    for (listener, router) in routers {
        if let Some(listener) = listener {
            let listener = tokio::net::TcpListener::from_std(nonblocking(listener)?)
                .map_err(ServeError::Socket)?;
            http_tasks.push(tokio::spawn(http::serve(
                listener,
                router,
                limits,
                http::Allow::new(shared.config.http_allow.clone()),
                stop_rx.clone(),
            )));
        }
    }

    let saver = state_file
        .clone()
        .map(|file| tokio::spawn(persist::run(shared.clone(), file, stop_rx.clone())));

    let (flush_tx, flush_rx) = std::sync::mpsc::channel();
    let flusher = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("statkit-flush".into())
            .spawn(move || flush::run(shared, flush_rx))
            .map_err(ServeError::Thread)?
    };

    // A client's `QUIT` (admin `requests quit`, gstats' REP) stops the
    // server the way a signal does.
    tokio::select! {
        () = shutdown => {}
        () = shared.quit.notified() => {}
    }
    tracing::info!("shutting down: receiving what is queued, then a final flush");
    stop_receiving.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = stop_tx.send(true);
    let _ = tcp_task.await;
    let _ = admin_task.await;
    futures_join(gstats_tasks).await;
    for task in http_tasks {
        let _ = task.await;
    }
    join_all(receivers).await;
    drop(flush_tx);
    join_all(vec![flusher]).await;
    for queue in &shared.queues {
        queue.close();
    }
    let grace = sink::graphite::SHUTDOWN_GRACE + Duration::from_secs(1);
    if tokio::time::timeout(grace, futures_join(sinks))
        .await
        .is_err()
    {
        tracing::error!("sinks did not finish delivering the final flush in time");
    }
    if let Some(task) = saver {
        let _ = task.await;
    }
    if let Some(file) = &state_file {
        // After the store took the final flush.
        persist::save_now(&shared, &file.path).await;
    }
    if let Some(path) = unix_path {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn nonblocking(listener: std::net::TcpListener) -> Result<std::net::TcpListener, ServeError> {
    listener.set_nonblocking(true).map_err(ServeError::Socket)?;
    Ok(listener)
}

fn start_sinks(
    config: &Config,
    started: u64,
) -> (Vec<Arc<Queue>>, Vec<tokio::task::JoinHandle<()>>) {
    let names = Names::new(&config.naming);
    let mut queues = Vec::new();
    let mut tasks = Vec::new();
    for address in &config.graphite {
        let queue = Arc::new(Queue::new(format!("graphite {address}"), config.sink_queue));
        tasks.push(tokio::spawn(sink::graphite::run(
            address.clone(),
            names.clone(),
            queue.clone(),
            started,
        )));
        queues.push(queue);
    }
    if config.console {
        let queue = Arc::new(Queue::new("console".into(), config.sink_queue));
        tasks.push(tokio::spawn(sink::console::run(queue.clone())));
        queues.push(queue);
    }
    (queues, tasks)
}

fn start_receivers(
    shared: &Arc<Shared>,
    udp: Vec<std::net::UdpSocket>,
    udp_tables: Vec<Arc<Mutex<Table>>>,
    unix: Option<std::os::unix::net::UnixDatagram>,
    unix_table: Option<Arc<Mutex<Table>>>,
    stop: &Arc<AtomicBool>,
) -> Result<Vec<JoinHandle<()>>, ServeError> {
    let mut threads = Vec::new();
    for (i, (socket, table)) in udp.into_iter().zip(udp_tables).enumerate() {
        threads.push(spawn_datagram(
            format!("statkit-udp-{i}"),
            socket,
            table,
            shared,
            stop,
        )?);
    }
    if let (Some(socket), Some(table)) = (unix, unix_table) {
        threads.push(spawn_datagram(
            "statkit-unix".into(),
            socket,
            table,
            shared,
            stop,
        )?);
    }
    Ok(threads)
}

/// One datagram receiver thread, draining its table early when it asks.
fn spawn_datagram(
    name: String,
    socket: impl std::os::fd::AsRawFd + Send + 'static,
    table: Arc<Mutex<Table>>,
    shared: &Arc<Shared>,
    stop: &Arc<AtomicBool>,
) -> Result<JoinHandle<()>, ServeError> {
    let (shared, stop) = (shared.clone(), stop.clone());
    let (max, coalesce) = (shared.config.max_datagram, shared.config.receive_coalesce);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let drain_early = || shared.drain_early(&table);
            source::datagram::receive(&socket, &table, &stop, max, coalesce, drain_early)
        })
        .map_err(ServeError::Thread)
}

/// Joins threads without blocking the async runtime.
async fn join_all(threads: Vec<JoinHandle<()>>) {
    let _ = tokio::task::spawn_blocking(move || {
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a server thread panicked");
            }
        }
    })
    .await;
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}
