//! What the server's threads and tasks share.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use statkit_agg::{Aggregator, IngestCounts, Table};
use statkit_requests::RequestView;
use statkit_store::Store;
use tokio::sync::Notify;

use crate::config::Config;
use crate::sink::Queue;
use crate::source::lock;

/// Unix time in seconds, rounded as etsy rounds `Date.now() / 1000`.
pub(crate) fn unix_now() -> u64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_secs_f64()).round() as u64
}

/// State shared by receivers, the flusher, the admin port and the sinks'
/// queues. Receivers only ever touch their own table.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    /// One table per receiver: each UDP thread, the Unix socket thread, and
    /// all TCP connections together.
    pub tables: Vec<Arc<Mutex<Table>>>,
    pub aggregator: Mutex<Aggregator>,
    pub queues: Vec<Arc<Queue>>,
    /// etsy's `health` status, toggled on the admin port.
    pub healthy: AtomicBool,
    pub started: u64,
    /// Unix seconds when a packet last arrived (as of the last drain).
    pub last_message: AtomicU64,
    /// Inodes of the UDP sockets, for the kernel's drop counts.
    pub udp_inodes: Vec<u64>,
    /// TCP connections refused past the connection limit.
    pub tcp_refused: Arc<AtomicU64>,
    /// Unix seconds of the last flush, 0 before the first: the flusher
    /// stores it so readers need not wait for the aggregator's lock.
    pub last_flush: AtomicU64,
    /// The request view, fed as tables are drained (locked after the
    /// aggregator, never before it).
    pub requests: Mutex<RequestView>,
    /// Notified when a client asks the server to stop (gstats' `QUIT`).
    pub quit: Notify,
    /// The history the HTTP server shows, fed by the flusher's snapshots
    /// (written once per flush, read by requests).
    pub store: RwLock<Store>,
    /// Write accesses to `store` so far (see [`Shared::store_generation`]).
    store_generation: AtomicU64,
}

impl Shared {
    /// The state of a server started at `started` (Unix seconds): healthy,
    /// nothing received or flushed yet.
    pub(crate) fn new(
        config: Config,
        tables: Vec<Arc<Mutex<Table>>>,
        queues: Vec<Arc<Queue>>,
        started: u64,
        udp_inodes: Vec<u64>,
    ) -> Self {
        let aggregator = Mutex::new(Aggregator::new(config.aggregation.clone()));
        let requests = Mutex::new(RequestView::new(config.requests.view));
        let store = RwLock::new(Store::new(config.store.clone()));
        Self {
            config,
            tables,
            aggregator,
            queues,
            healthy: AtomicBool::new(true),
            started,
            last_message: AtomicU64::new(started),
            udp_inodes,
            tcp_refused: Arc::new(AtomicU64::new(0)),
            last_flush: AtomicU64::new(0),
            requests,
            quit: Notify::new(),
            store,
            store_generation: AtomicU64::new(0),
        }
    }

    /// The store, for reading; a panic elsewhere does not hide it.
    pub(crate) fn store(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn store_mut(&self) -> RwLockWriteGuard<'_, Store> {
        let store = self.store.write().unwrap_or_else(PoisonError::into_inner);
        self.store_generation.fetch_add(1, Ordering::Relaxed);
        store
    }

    /// Bumped by every [`Shared::store_mut`]: read while holding
    /// [`Shared::store`], equal values mean the same store.
    pub(crate) fn store_generation(&self) -> u64 {
        self.store_generation.load(Ordering::Relaxed)
    }

    /// Drains every receiver's table into `aggregator`, showing the request
    /// view what each holds first.
    pub(crate) fn absorb_all(&self, aggregator: &mut Aggregator) {
        let now = unix_now();
        let mut requests = lock(&self.requests);
        for table in &self.tables {
            self.absorb(aggregator, &mut requests, &mut lock(table), now);
        }
    }

    /// Drains one receiver's table before the flush, if it still asks to
    /// be ([`Table::wants_drain`]; the flusher may have drained it since).
    /// Called by the receiver itself, holding no lock, as locks are taken
    /// in this order everywhere: aggregator, request view, table.
    pub(crate) fn drain_early(&self, table: &Mutex<Table>) {
        let mut aggregator = lock(&self.aggregator);
        let mut requests = lock(&self.requests);
        let mut table = lock(table);
        if table.wants_drain() {
            self.absorb(&mut aggregator, &mut requests, &mut table, unix_now());
        }
    }

    fn absorb(
        &self,
        aggregator: &mut Aggregator,
        requests: &mut RequestView,
        table: &mut Table,
        now: u64,
    ) {
        if table.is_idle() {
            return;
        }
        if let Some(error) = table.take_last_error() {
            tracing::debug!("rejected statsd input: {error}");
        }
        if table.counts().packets > 0 {
            self.last_message.store(now, Ordering::Relaxed);
        }
        crate::requests::observe(requests, table, now);
        aggregator.absorb(table);
    }

    /// Everything received since start, including what the receivers hold
    /// right now, and the series held. Reads without draining: a drain in
    /// the middle of an interval would change how fractional sums
    /// associate, so watching the server must not do one.
    pub(crate) fn ingest_totals(&self) -> (IngestCounts, usize) {
        let aggregator = lock(&self.aggregator);
        let mut totals = aggregator.ingested();
        for table in &self.tables {
            let pending = lock(table).counts();
            if pending.packets > 0 {
                self.last_message.store(unix_now(), Ordering::Relaxed);
            }
            totals.add(&pending);
        }
        (totals, aggregator.series())
    }
}
