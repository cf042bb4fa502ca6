//! What a reader polling a writer's stats file 100 times a second (as
//! `statkit poll` or `serve` would) costs the writer's counter increments.
//!
//!   cargo bench -p statkit --bench shm_polled
//!
//! The reader is this bench binary started again as a second process. The
//! writer increments one counter in segments of a fixed count; between
//! segments the reader is stopped (SIGSTOP) or let run (SIGCONT), in
//! alternating order, so that both states see the same drift of a shared
//! machine. The medians of the two states are compared. (Two criterion runs
//! one after the other differ by more than the effect measured here.)

use std::hint::black_box;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use statkit::shm::{Counter, Options, Registry};

/// Set in the environment when the binary runs as the reader.
const READER_ENV: &str = "STATKIT_BENCH_READ_FILE";
const ROUNDS: usize = 40;
const INCREMENTS: u64 = 50_000_000;
const READ_EVERY: Duration = Duration::from_millis(10);

fn main() {
    if let Some(path) = std::env::var_os(READER_ENV) {
        read_until_stdin_closes(std::path::Path::new(&path));
        return;
    }
    // `cargo bench` passes `--bench`; a filter that is not ours skips us.
    let skip = std::env::args()
        .skip(1)
        .any(|a| !a.starts_with("--") && !"counter_inc_polled".contains(a.as_str()));
    if skip {
        return;
    }
    measure();
}

fn measure() {
    let dir = tempfile::tempdir().expect("scratch folder");
    let registry = Registry::publish(Options {
        dir: dir.path().to_owned(),
        program: "polled".into(),
        ..Options::default()
    })
    .expect("a stats file");
    let counter = registry.counter("hits", &[]).expect("a new name");
    let path = registry.path().expect("a published file").to_owned();
    let mut reader = Command::new(std::env::current_exe().expect("this binary"))
        .env(READER_ENV, &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the reader process starts");
    segment(&counter); // warm-up
    let (mut read, mut alone) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for reading in [round % 2 == 0, round % 2 == 1] {
            signal(
                &reader,
                if reading {
                    libc::SIGCONT
                } else {
                    libc::SIGSTOP
                },
            );
            std::thread::sleep(3 * READ_EVERY);
            let ns = segment(&counter);
            if reading { &mut read } else { &mut alone }.push(ns);
        }
    }
    signal(&reader, libc::SIGCONT);
    let reads = stop(&mut reader);
    let (with, without) = (median(&mut read), median(&mut alone));
    println!(
        "counter_inc_polled: {ROUNDS} segments of {INCREMENTS} increments each way; \
         median {without:.3} ns without a reader, {with:.3} ns with one \
         ({reads} reads); change {:+.2}%",
        100.0 * (with / without - 1.0)
    );
}

/// Nanoseconds per increment over one segment.
fn segment(counter: &Counter) -> f64 {
    let start = Instant::now();
    for _ in 0..INCREMENTS {
        black_box(counter).inc();
    }
    start.elapsed().as_secs_f64() * 1e9 / INCREMENTS as f64
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "signalling the reader failed");
}

/// Closes the reader's input and returns how many reads it made.
fn stop(reader: &mut Child) -> String {
    drop(reader.stdin.take());
    let mut out = String::new();
    if let Some(mut stdout) = reader.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    let status = reader.wait().expect("the reader ends");
    assert!(status.success(), "the reader failed: {status}");
    out.trim().to_owned()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The reader: reads `path` every 10 ms until its standard input closes (or
/// an hour passes), then prints how many reads it made.
fn read_until_stdin_closes(path: &std::path::Path) {
    let closed = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    {
        let closed = closed.clone();
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            closed.store(true, Relaxed);
        });
    }
    let deadline = Instant::now() + Duration::from_secs(3600);
    while !closed.load(Relaxed) && Instant::now() < deadline {
        black_box(statkit_scan::read_file(path).expect("the writer's file reads"));
        reads.fetch_add(1, Relaxed);
        std::thread::sleep(READ_EVERY);
    }
    println!("{}", reads.load(Relaxed));
}
