//! An mmstats v1 copy of a registry, so existing mmstats readers
//! (`slurpstats`, `pollstats`, `mmash`) read a statkit program.
//!
//! A background thread reads the registry's own cells every interval and
//! replaces the mmstats file whole (written aside, then renamed), so a
//! reader never sees a half-written file. Counters become `Q` fields;
//! gauges, moving averages and an average's mean `d`; text `64s`; a
//! histogram `<label>.count` (`Q`) and `<label>.mean`, `.p50`, `.p90`,
//! `.p99`, `.max` (`d`). `sys.pid` (`I`) and `sys.created` (`d`) are added as
//! mmstats' default model adds them, so `cleanstats` works too. The thread
//! stops, and the file is removed, when the [`MmstatsMirror`] is dropped.

use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use statkit_format::cell::TEXT_MAX;
use statkit_format::mmstats::{encode, MmValue};
use statkit_format::Histogram;

use super::own::Own;
use super::Registry;

/// The running copy; dropping it stops the thread and removes the file.
#[derive(Debug)]
pub struct MmstatsMirror {
    path: PathBuf,
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

/// mmstats' default file for this process: `$MMSTATS_PATH` (else the
/// temporary folder) / `<program>-<pid>-<pid>.mmstats`, as mmstats names a
/// main thread's file.
pub fn mmstats_default_path(program: &str) -> PathBuf {
    let dir = std::env::var_os("MMSTATS_PATH")
        .filter(|v| !v.is_empty())
        .map_or_else(std::env::temp_dir, PathBuf::from);
    let pid = std::process::id();
    dir.join(format!(
        "{}-{pid}-{pid}.mmstats",
        statkit_format::naming::file_safe(program)
    ))
}

impl Registry {
    /// Writes the registry as an mmstats v1 file at `path` now and every
    /// `interval` after.
    pub fn mirror_mmstats(&self, path: PathBuf, interval: Duration) -> io::Result<MmstatsMirror> {
        let registry = self.clone();
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        write(&path, &fields(&registry, created))?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = {
            let (path, stop) = (path.clone(), stop.clone());
            std::thread::Builder::new()
                .name("statkit-mmstats".into())
                .spawn(move || run(&registry, &path, interval, created, &stop))?
        };
        Ok(MmstatsMirror {
            path,
            stop,
            thread: Some(thread),
        })
    }
}

impl MmstatsMirror {
    /// The mmstats file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for MmstatsMirror {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn run(
    registry: &Registry,
    path: &Path,
    interval: Duration,
    created: f64,
    stop: &(Mutex<bool>, Condvar),
) {
    let (stopped, wake) = stop;
    let mut guard = stopped.lock().unwrap_or_else(|e| e.into_inner());
    // Stopped before this thread first waited: the notification is gone,
    // and waiting would hold the mirror's drop for a whole interval.
    while !*guard {
        guard = wake
            .wait_timeout(guard, interval)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        if !*guard {
            // A failed write (a full disk) is tried again next interval.
            let _ = write(path, &fields(registry, created));
        }
    }
}

/// Writes the copy aside, then renames it over `path`. The folder is
/// `/tmp` by default, where anyone may plant a link at the predictable
/// name aside: it is created with `O_EXCL | O_NOFOLLOW` (what is there
/// already is removed, never written through). Mode 0644, as mmstats'
/// readers of other users expect to read it.
fn write(path: &Path, fields: &[(String, MmValue)]) -> io::Result<()> {
    let aside = path.with_extension(format!("tmp-{}", std::process::id()));
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&aside)
    };
    let mut file = match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&aside)?;
            create()?
        }
        other => other?,
    };
    let written = io::Write::write_all(&mut file, &encode(fields))
        .and_then(|()| std::fs::rename(&aside, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&aside);
    }
    written
}

/// The registry's values as mmstats fields.
fn fields(registry: &Registry, created: f64) -> Vec<(String, MmValue)> {
    let values = registry.own_values();
    let mut out = Vec::with_capacity(values.len() + 2);
    for (label, value) in values {
        match value {
            Own::Counter(n) => out.push((label, MmValue::U64(n))),
            Own::Number(x) => out.push((label, MmValue::F64(x))),
            Own::Text(value) => out.push((
                label,
                MmValue::Text {
                    size: TEXT_MAX as u16,
                    value,
                },
            )),
            Own::Histogram(h, _) => histogram_fields(&label, &h, &mut out),
        }
    }
    out.push(("sys.pid".into(), MmValue::U32(std::process::id())));
    out.push(("sys.created".into(), MmValue::F64(created)));
    out
}

fn histogram_fields(label: &str, h: &Histogram, out: &mut Vec<(String, MmValue)>) {
    out.push((format!("{label}.count"), MmValue::U64(h.count)));
    let stats = [
        ("mean", h.mean()),
        ("p50", h.quantile(0.5)),
        ("p90", h.quantile(0.9)),
        ("p99", h.quantile(0.99)),
        ("max", (h.count > 0).then_some(h.max)),
    ];
    for (name, value) in stats {
        out.push((
            format!("{label}.{name}"),
            MmValue::F64(value.unwrap_or(0.0)),
        ));
    }
}
