//! Assembling the server from its features. [`crate::run`] calls these in
//! order; each feature gets only the handles it reads, and the stop steps
//! run in the reverse order of what depends on what: listeners first, then
//! receivers, then the final flush, then the sinks, then the state file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::watch;
use tokio::task::JoinHandle as Task;

use crate::admin::Admin;
use crate::checkpoint::Checkpointer;
use crate::flush::Flusher;
use crate::http::{self, Context};
use crate::pipeline::{Intake, Pipeline};
use crate::requests::{GstatsSockets, Requests, RequestsReader};
use crate::sink::{console::Console, graphite::Graphite, Fanout, QueueOptions, Sinks};
use crate::source::{self, SourceCounts};
use crate::status::Status;
use crate::store::{self, History};
use crate::support::unix_now;
use crate::{Config, ServeError};

/// The features' shared handles, made once at start.
pub(crate) struct Server {
    pub config: Config,
    pub status: Arc<Status>,
    pub pipeline: Arc<Pipeline>,
    pub requests: RequestsReader,
    /// The history store, when something reads it (HTTP, the state file).
    pub history: Option<Arc<History>>,
    pub counts: Arc<SourceCounts>,
    /// With a state folder: the open interval's checkpoints.
    checkpoints: Option<Arc<Checkpointer>>,
    sinks: Sinks,
    fanout: Fanout,
    /// Set when receiver threads should stop.
    stop_receiving: Arc<AtomicBool>,
    stop_tx: watch::Sender<bool>,
    stop: watch::Receiver<bool>,
}

/// What runs, in the groups that stop together.
#[derive(Default)]
pub(crate) struct Running {
    /// Async listeners: TCP statsd, admin, gstats, HTTP.
    listeners: Vec<Task<()>>,
    /// Receiver and scanner threads.
    receivers: Vec<JoinHandle<()>>,
    flusher: Option<(JoinHandle<()>, mpsc::Sender<()>)>,
    checkpointer: Option<(JoinHandle<()>, mpsc::Sender<()>)>,
    saver: Option<Task<()>>,
}

impl Server {
    /// The handles for `config`, with one intake per receiver `intakes`
    /// asks for; `udp_inodes` name the UDP sockets for the kernel's drop
    /// counts.
    pub(crate) fn new(
        config: Config,
        intakes: usize,
        udp_inodes: Vec<u64>,
    ) -> (Server, Vec<Intake>) {
        let started = unix_now();
        let requests = Arc::new(Requests::new(config.requests.view));
        let (pipeline, intakes) = Pipeline::new(
            config.aggregation.clone(),
            intakes,
            Some(requests.clone()),
            started,
        );
        let history = (config.http.shows_store() || config.state.is_some())
            .then(|| Arc::new(History::new(config.store.clone())));
        let (stop_tx, stop) = watch::channel(false);
        let checkpoints = (config.state_dir.as_deref())
            .map(|dir| Arc::new(Checkpointer::new(dir, pipeline.clone())));
        let server = Server {
            checkpoints,
            requests: RequestsReader::new(requests, pipeline.clone()),
            status: Arc::new(Status::new(started)),
            pipeline,
            history,
            counts: Arc::new(SourceCounts::new(udp_inodes)),
            sinks: Sinks::default(),
            fanout: Fanout::default(),
            stop_receiving: Arc::new(AtomicBool::new(false)),
            stop_tx,
            stop,
            config,
        };
        (server, intakes)
    }

    /// Graphite destinations, the console, the history store.
    pub(crate) fn start_sinks(&mut self) {
        let sinks = &self.config.sinks;
        self.sinks = Sinks::new(QueueOptions {
            capacity: sinks.queue,
            disk: (self.config.state_dir.as_ref()).map(|dir| (dir.join(QUEUES), sinks.queue_bytes)),
            replay_rate: sinks.replay_rate,
        });
        let names = statkit_encode::graphite::Names::new(&sinks.naming);
        for address in &sinks.graphite {
            let graphite = Graphite::new(address.clone(), names.clone(), self.status.started);
            let id = format!("graphite-{}", file_name(address));
            (self.sinks).start(format!("graphite {address}"), &id, graphite);
        }
        if sinks.console {
            let console = Console {
                mode: sinks.console_mode,
                prefix_stats: sinks.naming.prefix_stats.clone(),
            };
            self.sinks.start_local("console".into(), console);
        }
        if let Some(history) = &self.history {
            let sink = store::sink::StoreSink(history.clone());
            self.sinks.start_local("store".into(), sink);
        }
        self.fanout = self.sinks.queues();
    }

    /// Restores the last checkpoint (its outbox's flush back into the
    /// sinks' queues) and starts checkpointing; then loads the history's
    /// state file, before the first flush so restored gauges are in it,
    /// and saves it every interval. After the sinks start, before the
    /// receivers.
    pub(crate) fn start_state(&self, running: &mut Running) -> Result<(), ServeError> {
        if let Some(checkpoints) = &self.checkpoints {
            if let Some(outbox) = checkpoints.restore() {
                let bytes = Some(&outbox.bytes[..]);
                self.fanout.push(outbox.number, outbox.snapshot, bytes);
            }
            let (checkpoints, interval) = (checkpoints.clone(), self.config.checkpoint_interval);
            let (tx, rx) = mpsc::channel();
            let thread = std::thread::Builder::new()
                .name("statkit-checkpoint".into())
                .spawn(move || checkpoints.run(interval, rx))
                .map_err(ServeError::Thread)?;
            running.checkpointer = Some((thread, tx));
        }
        let (Some(file), Some(history)) = (&self.config.state, &self.history) else {
            return Ok(());
        };
        store::persist::load(history, &self.pipeline, file, self.config.store.clone());
        let saver = store::persist::run(history.clone(), file.clone(), self.stop.clone());
        running.saver = Some(tokio::spawn(saver));
        Ok(())
    }

    /// One thread per datagram socket (UDP, Unix).
    pub(crate) fn start_datagrams(
        &self,
        sockets: Vec<(String, Box<dyn std::os::fd::AsRawFd + Send>, Intake)>,
        running: &mut Running,
    ) -> Result<(), ServeError> {
        let statsd = &self.config.statsd;
        for (name, socket, intake) in sockets {
            let stop = self.stop_receiving.clone();
            let (max, coalesce) = (statsd.max_datagram, statsd.receive_coalesce);
            let thread = std::thread::Builder::new()
                .name(name)
                .spawn(move || source::datagram::receive(&*socket, &intake, &stop, max, coalesce))
                .map_err(ServeError::Thread)?;
            running.receivers.push(thread);
        }
        Ok(())
    }

    /// The thread that scans the stats and pipe folders, when there is one.
    pub(crate) fn start_scanner(
        &self,
        intake: Intake,
        running: &mut Running,
    ) -> Result<(), ServeError> {
        let scan = &self.config.scan;
        let folders = source::files::Folders {
            stats: scan.stats_dir.clone(),
            pipes: scan.pipe_scan.then(|| scan.pipes.clone()),
            limits: scan.limits,
            max_files: scan.max_files,
        };
        let (counts, stop) = (self.counts.clone(), self.stop_receiving.clone());
        let thread = source::files::start(folders, scan.interval, intake, counts, stop)
            .map_err(ServeError::Thread)?;
        running.receivers.push(thread);
        Ok(())
    }

    /// Whether the scanner has anything to read.
    pub(crate) fn scans(config: &Config) -> bool {
        config.scan.stats_dir.is_some() || config.scan.pipe_scan
    }

    pub(crate) fn start_tcp(
        &self,
        listener: std::net::TcpListener,
        intake: Intake,
        running: &mut Running,
    ) -> Result<(), ServeError> {
        let statsd = &self.config.statsd;
        let limits = source::tcp::Limits {
            max_line: statsd.max_datagram,
            max_connections: statsd.tcp_max_connections,
            idle_timeout: statsd.tcp_idle_timeout,
        };
        running.listeners.push(tokio::spawn(source::tcp::serve(
            async_listener(listener)?,
            intake,
            limits,
            self.counts.clone(),
            self.stop.clone(),
        )));
        Ok(())
    }

    pub(crate) fn start_admin(
        &self,
        listener: std::net::TcpListener,
        socket: Option<std::os::unix::net::UnixListener>,
        running: &mut Running,
    ) -> Result<(), ServeError> {
        let admin = Admin {
            pipeline: self.pipeline.clone(),
            status: self.status.clone(),
            sinks: self.fanout.clone(),
            requests: self.requests.clone(),
            settings: self.config.settings.clone(),
            history: self.history.clone(),
        };
        let socket = socket
            .map(|socket| {
                socket.set_nonblocking(true)?;
                tokio::net::UnixListener::from_std(socket)
            })
            .transpose()
            .map_err(ServeError::Socket)?;
        let config = self.config.admin.clone();
        let serve = crate::admin::serve(
            async_listener(listener)?,
            socket,
            admin,
            config,
            self.stop.clone(),
        );
        running.listeners.push(tokio::spawn(serve));
        Ok(())
    }

    /// gstats' ZeroMQ endpoints, when bound.
    pub(crate) fn start_gstats(&self, sockets: GstatsSockets, running: &mut Running) {
        let tasks = sockets.spawn(&self.requests, &self.status, &self.stop);
        running.listeners.extend(tasks);
    }

    /// The HTTP listeners: the main one, gstatsd's load API, statvent's
    /// service.
    pub(crate) fn start_http(
        &self,
        listeners: [Option<std::net::TcpListener>; 3],
        running: &mut Running,
    ) -> Result<(), ServeError> {
        let history = self
            .history
            .clone()
            .unwrap_or_else(|| Arc::new(History::new(self.config.store.clone())));
        let context = Arc::new(Context {
            pipeline: self.pipeline.clone(),
            status: self.status.clone(),
            history,
            sinks: self.fanout.clone(),
            counts: self.counts.clone(),
            requests: self.requests.clone(),
            status_allow: self.config.requests.status_allow.clone(),
            scan: self.config.scan.clone(),
            prometheus: Arc::new(crate::prometheus::Face::new(
                &self.config.prometheus,
                self.config.store.max_series,
            )),
        });
        let limits = http::Limits::default();
        let [main, load, statvent] = listeners;
        let routers = [
            (main, http::router(context.clone(), limits)),
            (load, http::load_router(context.clone(), limits)),
            (statvent, http::statvent_router(context, limits)),
        ];
        let allow = http::Allow::new(self.config.http.allow.clone());
        for (listener, router) in routers {
            if let Some(listener) = listener {
                let listener = async_listener(listener)?;
                let serve = http::serve(listener, router, limits, allow.clone(), self.stop.clone());
                running.listeners.push(tokio::spawn(serve));
            }
        }
        Ok(())
    }

    /// The flusher thread.
    pub(crate) fn start_flusher(&self, running: &mut Running) -> Result<(), ServeError> {
        let flusher = Flusher {
            pipeline: self.pipeline.clone(),
            sinks: self.fanout.clone(),
            counts: self.counts.clone(),
            status: self.status.clone(),
            interval: std::time::Duration::from_secs_f64(
                self.config.aggregation.interval_ms / 1000.0,
            ),
            checkpoints: self.checkpoints.clone(),
        };
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("statkit-flush".into())
            .spawn(move || flusher.run(rx))
            .map_err(ServeError::Thread)?;
        running.flusher = Some((thread, tx));
        Ok(())
    }

    /// Until `shutdown` completes or a client asks the server to stop
    /// (admin `requests quit`, gstats' `QUIT`).
    pub(crate) async fn wait(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::select! {
            () = shutdown => {}
            () = self.status.quitting() => {}
        }
    }

    /// Stops everything in order: what is received before the stop is in
    /// the final flush, and the sinks get a bounded grace to deliver it.
    pub(crate) async fn stop(self, running: Running) {
        tracing::info!("shutting down: receiving what is queued, then a final flush");
        self.stop_receiving.store(true, Ordering::Relaxed);
        let _ = self.stop_tx.send(true);
        for task in running.listeners {
            let _ = task.await;
        }
        join_threads(running.receivers).await;
        // The final flush writes the last checkpoint (the interval it
        // ends is then empty); the checkpointer stops after it.
        for (thread, tx) in [running.flusher, running.checkpointer]
            .into_iter()
            .flatten()
        {
            drop(tx);
            join_threads(vec![thread]).await;
        }
        self.sinks.finish().await;
        if let Some(task) = running.saver {
            let _ = task.await;
        }
        if let (Some(file), Some(history)) = (&self.config.state, &self.history) {
            // After the store took the final flush.
            store::persist::save_now(history, &file.path).await;
        }
        let sockets = [&self.config.statsd.unix_socket, &self.config.admin.socket];
        for path in sockets.into_iter().flatten() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The sinks' disk queues' folder in the state folder.
const QUEUES: &str = "queue";

/// `text` as one file name: bytes other than letters, digits, `.` and `-`
/// become `_` (`127.0.0.1:2003` -> `127.0.0.1_2003`).
fn file_name(text: &str) -> String {
    let keep = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    text.chars()
        .map(|c| if keep(c) { c } else { '_' })
        .collect()
}

fn async_listener(listener: std::net::TcpListener) -> Result<tokio::net::TcpListener, ServeError> {
    listener.set_nonblocking(true).map_err(ServeError::Socket)?;
    tokio::net::TcpListener::from_std(listener).map_err(ServeError::Socket)
}

/// Joins threads without blocking the async runtime.
async fn join_threads(threads: Vec<JoinHandle<()>>) {
    let _ = tokio::task::spawn_blocking(move || {
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a server thread panicked");
            }
        }
    })
    .await;
}
