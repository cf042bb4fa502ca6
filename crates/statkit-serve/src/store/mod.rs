//! The history store as a feature: the store the HTTP server reads, fed by
//! its own sink with every flush, saved to and loaded from its state file
//! in the state folder ([`dir`]).

pub mod dir;
pub(crate) mod persist;
pub(crate) mod settings;
pub(crate) mod sink;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use statkit_store::Store;

/// The store behind a lock, written once per flush, read by requests.
#[derive(Debug)]
pub(crate) struct History {
    store: RwLock<Store>,
    /// Write accesses so far (see [`History::generation`]).
    generation: AtomicU64,
}

impl History {
    pub(crate) fn new(options: statkit_store::Options) -> Self {
        Self {
            store: RwLock::new(Store::new(options)),
            generation: AtomicU64::new(0),
        }
    }

    /// The store, for reading; a panic elsewhere does not hide it.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        let store = self.store.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::Relaxed);
        store
    }

    /// Bumped by every [`History::write`]: read while holding
    /// [`History::read`], equal values mean the same store.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }
}
