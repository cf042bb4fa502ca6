//! The publishers of this process, for the `fork` and `exit` hooks.
//!
//! A thread does not survive `fork`: the child handler starts each live
//! publisher again under the child's pid. At normal exit the handler
//! removes every live publisher's FIFO (the threads are left to die with
//! the process).

use std::sync::{Arc, Mutex, Once, Weak};

use super::{PipeError, Shared};

static LIVE: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());
static HOOKS: Once = Once::new();

/// Adds `shared`, unless a live publisher of this process uses its path.
pub(super) fn add(shared: &Arc<Shared>) -> Result<(), PipeError> {
    HOOKS.call_once(|| {
        // SAFETY: registering plain `extern "C" fn`s with no state.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork));
            libc::atexit(at_exit);
        }
    });
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    live.retain(|w| w.strong_count() > 0);
    let path = shared.path();
    if live
        .iter()
        .filter_map(Weak::upgrade)
        .any(|s| s.path() == path)
    {
        return Err(PipeError::Busy(path));
    }
    live.push(Arc::downgrade(shared));
    Ok(())
}

pub(super) fn remove(shared: &Arc<Shared>) {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    live.retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(shared)));
}

/// The live publishers, unless another thread held the list when the
/// process forked (the lock would then never be released in the child).
fn each(f: impl Fn(&Arc<Shared>)) {
    if let Ok(live) = LIVE.try_lock() {
        live.iter().filter_map(Weak::upgrade).for_each(|s| f(&s));
    }
}

extern "C" fn after_fork() {
    // A failure leaves the child without a pipe, as statvent's children.
    each(|shared| {
        let _ = shared.launch_in_child();
    });
}

extern "C" fn at_exit() {
    each(|shared| {
        let _ = std::fs::remove_file(shared.path());
    });
}
