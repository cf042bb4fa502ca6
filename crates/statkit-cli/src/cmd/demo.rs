//! `statkit demo`: a small simulated web application that publishes its
//! metrics through the `statkit` library, so the shared-memory and pipe
//! readers (`slurp`, `poll`, `clean`, `serve`'s `/stats`) can be tried
//! without writing a program.
//!
//! It writes a stats file (`<STATKIT_DIR>/statkit-demo-<pid>.statkit`:
//! counters, a gauge, a histogram, each with a help text) and a statvent pipe
//! (`<STATKIT_PIPE_DIR>/<pid>.stats`) from the same registry, says where
//! and how to read them, and removes both when it ends: after `--seconds`,
//! or at SIGINT/SIGTERM.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use statkit::pipe::{self, Publisher};
use statkit::shm::{Options, Registry};

use super::UsageError;

/// The program name in the stats file's header and name.
const PROGRAM: &str = "statkit-demo";

/// One simulated tick: requests arrive and finish every 50 ms.
const TICK: Duration = Duration::from_millis(50);

/// Publish a simulated web application's metrics: a stats file and a
/// statvent pipe, read with `statkit slurp`, `statkit poll` or a running
/// server's `/stats`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How long to run, in seconds.
    #[arg(long, value_name = "N", default_value_t = 60)]
    seconds: u64,
}

/// The demo's metrics' units and help texts.
const DESCRIPTIONS: [(&str, &str, &str); 4] = [
    ("requests", "", "requests the simulated app answered"),
    ("errors", "", "requests that failed"),
    ("in_flight", "", "requests being answered"),
    ("latency_ms", "milliseconds", "time to answer a request"),
];

/// The metrics of the simulated application, all in one registry.
struct App {
    requests: statkit::shm::Counter,
    errors: statkit::shm::Counter,
    in_flight: statkit::shm::Gauge,
    latency: statkit::shm::Histogram,
}

impl App {
    fn register(registry: &Registry) -> anyhow::Result<App> {
        let context = |name: &str| format!("registering the demo's metric {name}");
        // Help texts and units, for readers (`slurp`, `/metrics`' # HELP).
        for (name, unit, help) in DESCRIPTIONS {
            registry
                .describe(name, unit, help)
                .with_context(|| format!("describing the demo's metric {name}"))?;
        }
        Ok(App {
            requests: registry
                .counter("requests", &[])
                .with_context(|| context("requests"))?,
            errors: registry
                .counter("errors", &[])
                .with_context(|| context("errors"))?,
            in_flight: registry
                .gauge("in_flight", &[])
                .with_context(|| context("in_flight"))?,
            latency: registry
                .histogram("latency_ms", &[])
                .with_context(|| context("latency_ms"))?,
        })
    }

    /// One tick of traffic: 0 to 7 requests, about one in twenty failing,
    /// with latencies around 20 ms and a slow tail.
    fn tick(&self, random: &mut Random) -> u64 {
        let arrived = random.below(8);
        self.in_flight.set(random.below(12) as f64);
        for _ in 0..arrived {
            self.requests.inc();
            if random.below(20) == 0 {
                self.errors.inc();
            }
            let base = 5.0 + random.below(30) as f64;
            let tail = if random.below(10) == 0 {
                random.below(400) as f64
            } else {
                0.0
            };
            self.latency.record(base + tail);
        }
        arrived
    }
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if args.seconds == 0 {
        return Err(UsageError("--seconds must be at least 1".into()).into());
    }
    let stop = statkit_bench::stop_on_signals().context("installing signal handlers")?;
    let options = Options {
        program: PROGRAM.into(),
        ..Options::default()
    };
    let registry = Registry::publish(options.clone()).with_context(|| {
        format!(
            "creating the stats file in {} (set STATKIT_DIR to a writable folder)",
            options.dir.display()
        )
    })?;
    let app = App::register(&registry)?;
    let publisher = Publisher::start(&registry, pipe::Options::default())
        .context("starting the statvent pipe (set STATKIT_PIPE_DIR to a writable folder)")?;
    let file = registry
        .path()
        .map_or_else(|| options.dir.clone(), std::path::Path::to_owned);

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "statkit demo: a simulated web app for {} s (pid {}), writing:",
        args.seconds,
        std::process::id()
    )?;
    writeln!(out, "  stats file {}", file.display())?;
    writeln!(
        out,
        "    counters requests, errors; gauge in_flight; histogram latency_ms"
    )?;
    writeln!(out, "  pipe {}", publisher.path().display())?;
    writeln!(
        out,
        "    the same values in statvent's format, one snapshot per reader"
    )?;
    writeln!(
        out,
        "Read them while it runs, from another shell (same STATKIT_DIR and STATKIT_PIPE_DIR):"
    )?;
    writeln!(
        out,
        "  statkit slurp                        every stats file and pipe"
    )?;
    writeln!(
        out,
        "  statkit poll requests,errors         what changed each second"
    )?;
    writeln!(
        out,
        "  curl http://127.0.0.1:8127/stats     the pipes summed, from a running `statkit serve`"
    )?;
    writeln!(
        out,
        "Ctrl-C ends it early; the file and the pipe are removed at the end."
    )?;
    out.flush()?;
    drop(out);

    let mut random = Random::seeded();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut requests = 0;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        requests += app.tick(&mut random);
        std::thread::sleep(TICK);
    }

    drop(publisher);
    registry.remove_file();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "statkit demo: done after {requests} requests; removed {} and its pipe",
        file.display()
    )?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// xorshift64: enough to vary the simulated traffic, no dependency.
struct Random(u64);

impl Random {
    fn seeded() -> Random {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        // Never 0: xorshift would stay there.
        Random(now | 1)
    }

    /// A number in 0..n (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_numbers_stay_below_the_bound_and_vary() {
        let mut random = Random(1);
        let drawn: Vec<u64> = (0..100).map(|_| random.below(8)).collect();
        assert!(drawn.iter().all(|&n| n < 8));
        assert!(drawn.iter().any(|&n| n != drawn[0]));
    }
}
