//! `statkit bench`: load a statsd server and check what it flushed, or (with
//! `--null-server`) be the do-nothing receiver that sets the CPU floor.
//!
//! Output is `key value` lines on stdout, one per fact, so that scripts
//! (`bench/compare.py`) can read them without guessing at layout. Before
//! them comes a short summary for a person, each line starting with `# `
//! (so a `key value` reader that keeps unknown keys sees only `#`);
//! `--format kv` leaves it out. On a terminal, stderr shows a progress bar
//! while the run lasts.

use std::io::{IsTerminal as _, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use statkit_bench::cpu::Server;
use statkit_bench::{
    Batching, CheckConfig, Mix, NullConfig, NullCounts, NullServer, Progress, RunConfig, RunReport,
    SendConfig, Settle, TrafficConfig, Transport,
};

use super::UsageError;

/// Load-test a statsd server (loopback only) and check its Graphite flushes.
///
/// Sends `--lines` lines of the `--mix` at `--rate` lines/s to `--statsd`.
/// With `--check`, first listens for Graphite plaintext on
/// `--graphite-listen` (point the server's Graphite sink there), waits for one
/// flush, sends, waits for the flushes after the load and compares the totals
/// with what was sent. With `--null-server ADDR`, sends nothing: receives and
/// counts lines on ADDR until SIGTERM/SIGINT or a bound.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The statsd server to load (the address `statkit serve --statsd`
    /// listens on). `--target` is the old name, still accepted.
    #[arg(
        long,
        env = "STATKIT_STATSD",
        value_name = "ADDR",
        default_value = "127.0.0.1:8125",
        alias = "target"
    )]
    statsd: SocketAddr,
    /// Send over one TCP connection instead of UDP.
    #[arg(long)]
    tcp: bool,
    /// Lines to send.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 100_000)]
    lines: u64,
    /// Target rate in lines per second; 0 sends as fast as possible.
    #[arg(short, long, value_name = "LINES_PER_S", default_value_t = 0.0)]
    rate: f64,
    /// Stop sending after this many seconds even if lines remain.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    time_limit: f64,
    /// Proportions of counters (c), sampled counters (sc), timers (ms),
    /// gauges (g) and sets (s).
    #[arg(long, default_value = "c=50,sc=10,ms=20,g=10,s=10")]
    mix: Mix,
    /// Distinct names per kind.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    names: u32,
    /// First component of every name (`<prefix>.<kind>.<i>`).
    #[arg(long, default_value = "bench")]
    prefix: String,
    /// Seed for values; the same seed sends the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Largest datagram when packing lines, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1400)]
    batch_bytes: usize,
    /// One line per datagram (or TCP write) instead of packing.
    #[arg(long)]
    single: bool,
    /// Datagrams per sendmmsg call; 1 uses plain send.
    #[arg(long, value_name = "N", default_value_t = 1)]
    sendmmsg: usize,
    /// Sample rate written on sampled counters (`|@R`).
    #[arg(long, value_name = "R", default_value_t = 0.1)]
    sample_rate: f64,
    /// Counter increments are drawn from 1..=N.
    #[arg(long, value_name = "N", default_value_t = 1)]
    counter_max: u32,
    /// Timer values are drawn from 0.0..N ms.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    timer_max: u32,
    /// Percentage of gauge lines sent as +/- deltas.
    #[arg(long, value_name = "PCT", default_value_t = 0)]
    gauge_delta_pct: u32,
    /// Set members are drawn from 0..N.
    #[arg(long, value_name = "N", default_value_t = 100)]
    set_range: u32,
    /// Receive the server's Graphite flushes and compare them with what was sent.
    #[arg(long)]
    check: bool,
    /// Where the Graphite receiver listens (with --check).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2003")]
    graphite_listen: SocketAddr,
    /// Seconds to wait for the server's first flush before sending anyway.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    warmup_timeout: f64,
    /// After the load, stop waiting once this many flushes have begun.
    #[arg(long, value_name = "N", default_value_t = 2)]
    settle_flushes: usize,
    /// After the load, stop waiting for flushes after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    settle_timeout: f64,
    /// Write every received Graphite line to this file.
    #[arg(long, value_name = "FILE")]
    graphite_dump: Option<PathBuf>,
    /// Exit 1 when the check finds a loss or a wrong value.
    #[arg(long)]
    strict: bool,
    /// Run the null server on ADDR (UDP and TCP) instead of sending.
    #[arg(long, value_name = "ADDR")]
    null_server: Option<SocketAddr>,
    /// Null server: datagrams per recvmmsg call.
    #[arg(long, value_name = "N", default_value_t = 64)]
    null_batch: usize,
    /// Null server: SO_RCVBUF in bytes (default: the kernel's).
    #[arg(long, value_name = "BYTES")]
    rcvbuf: Option<usize>,
    /// Null server: stop after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600.0)]
    null_time_limit: f64,
    /// Null server: stop once this many lines have arrived.
    #[arg(long, value_name = "N")]
    null_max_lines: Option<u64>,
    /// `text`: a summary (lines starting with `# `), then the `key value`
    /// lines; `kv`: only the `key value` lines, for scripts.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// What `statkit bench` prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Kv,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(addr) = args.null_server {
        return run_null(addr, &args);
    }
    let config = run_config(&args)?;
    let server = Server::find(config.send.target, config.send.transport);
    let mut cpu_before = None;
    let bar = Bar::on_a_terminal();
    let report = statkit_bench::run_with_progress(config, &mut |progress| {
        // From the start of the load: the warm-up's wait is not its cost.
        if cpu_before.is_none() && matches!(progress, Progress::Sending { .. }) {
            cpu_before = server.as_ref().and_then(Server::cpu);
        }
        bar.show(progress);
    });
    bar.finish();
    let report = report.context("statkit bench")?;
    let cpu = server.as_ref().and_then(|server| {
        let spent = server.cpu()?.checked_sub(cpu_before?)?;
        Some((server, spent))
    });
    let mut out = std::io::stdout().lock();
    if args.format == Format::Text {
        out.write_all(summary(&report, cpu).as_bytes())?;
    }
    for (key, value) in report.pairs() {
        writeln!(out, "{key} {value}")?;
    }
    out.flush()?;
    let failed = report
        .check
        .as_ref()
        .is_some_and(|c| c.report.mismatches() > 0);
    Ok(if args.strict && failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The progress bar on stderr, drawn only when stderr is a terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn on_a_terminal() -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar(Some(bar))
    }

    fn show(&self, progress: Progress) {
        let Some(bar) = &self.0 else { return };
        match progress {
            Progress::Warmup { timeout } => {
                bar.set_style(spinner());
                bar.set_message(format!(
                    "waiting for the server's first Graphite flush (at most {} s)",
                    timeout.as_secs_f64()
                ));
            }
            Progress::Sending { sent, total } => {
                if bar.length() != Some(total) {
                    bar.set_style(
                        ProgressStyle::with_template(
                            "sending {bar:24} {human_pos}/{human_len} lines {msg}, {eta} left",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    bar.set_length(total);
                    bar.reset_eta();
                }
                bar.set_position(sent);
                bar.set_message(format!("{:.0}/s", bar.per_sec()));
            }
            Progress::Settling { timeout } => {
                bar.set_style(spinner());
                bar.set_message(format!(
                    "sent; waiting for the flushes after the load (at most {} s)",
                    timeout.as_secs_f64()
                ));
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

fn spinner() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// A few lines for a person: what was sent how fast, the server's CPU per
/// line when bench found the server's process (`cpu`: it and the CPU time
/// it spent from the start of the load to the end of the run), and the
/// check's verdict. Each starts with `# `.
fn summary(report: &RunReport, cpu: Option<(&Server, Duration)>) -> String {
    let send = &report.send;
    let config = &report.config.send;
    let transport = if config.transport == Transport::Tcp {
        "TCP"
    } else {
        "UDP"
    };
    let mut lines = vec![format!(
        "sent {} lines to {} over {transport} in {:.3} s: {:.0} lines/s, {} {}",
        send.lines,
        config.target,
        send.elapsed.as_secs_f64(),
        send.rate(),
        send.writes,
        if config.transport == Transport::Tcp {
            "writes"
        } else {
            "datagrams"
        },
    )];
    if send.hit_time_limit {
        lines.push(format!(
            "stopped at the time limit ({} s) before every line was sent",
            config.time_limit.as_secs_f64()
        ));
    }
    if send.send_errors > 0 {
        lines.push(format!(
            "{} writes ({} lines) were refused: is a server listening on {}?",
            send.send_errors, send.lines_failed, config.target
        ));
    }
    // /proc counts CPU time in ticks (10 ms): below ten of them a figure
    // per line would be mostly rounding.
    let measurable = |spent: &Duration| *spent >= Duration::from_millis(100);
    match cpu.filter(|_| send.lines > 0) {
        Some((server, spent)) if !measurable(&spent) => lines.push(format!(
            "server CPU: too little to measure ({} pid {} spent under 0.1 s; /proc counts in \
             10 ms ticks): send more lines",
            server.name, server.pid
        )),
        Some((server, spent)) => lines.push(format!(
            "server CPU: {:.0} ns per line ({} pid {}, {:.3} s of CPU{})",
            spent.as_nanos() as f64 / send.lines as f64,
            server.name,
            server.pid,
            spent.as_secs_f64(),
            if report.check.is_some() {
                ", the flushes after the load included"
            } else {
                "; without --check, lines still queued at the end are not counted"
            },
        )),
        None => {}
    }
    match &report.check {
        Some(check) => {
            let r = &check.report;
            let verdict = if r.mismatches() == 0 { "ok" } else { "FAILED" };
            lines.push(format!(
                "check {verdict}: {:.4}% of lines lost, {} mismatched values, {} flushes after the load{}",
                r.total_loss_pct(),
                r.mismatches(),
                check.settled.flushes,
                if check.settled.complete {
                    ""
                } else {
                    " (the totals never completed)"
                },
            ));
        }
        None => lines.push(
            "not checked: --check compares the server's Graphite flushes with what was sent"
                .to_owned(),
        ),
    }
    lines.iter().map(|line| format!("# {line}\n")).collect()
}

fn run_config(args: &BenchArgs) -> anyhow::Result<RunConfig> {
    let traffic = TrafficConfig {
        mix: args.mix.clone(),
        names: args.names,
        prefix: args.prefix.clone(),
        seed: args.seed,
        sample_rate: args.sample_rate,
        counter_max: args.counter_max,
        timer_max: args.timer_max,
        gauge_delta_pct: args.gauge_delta_pct,
        set_range: args.set_range,
    };
    traffic.validate().map_err(|e| UsageError(e.to_string()))?;
    if !(args.rate.is_finite() && args.rate >= 0.0) {
        return Err(UsageError(format!("--rate {} is not a number of lines/s", args.rate)).into());
    }
    let rate = if args.rate == 0.0 {
        None
    } else {
        Some(args.rate)
    };
    let batching = if args.single {
        Batching::Single
    } else {
        Batching::Bytes(args.batch_bytes)
    };
    let send = SendConfig {
        target: args.statsd,
        transport: if args.tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        },
        lines: args.lines,
        rate,
        batching: batching.validate().map_err(|e| UsageError(e.to_string()))?,
        time_limit: seconds("--time-limit", args.time_limit)?,
        mmsg: args.sendmmsg.max(1),
    };
    let check = if args.check {
        Some(CheckConfig {
            listen: args.graphite_listen,
            warmup_timeout: seconds("--warmup-timeout", args.warmup_timeout)?,
            settle: Settle {
                flushes: args.settle_flushes,
                timeout: seconds("--settle-timeout", args.settle_timeout)?,
            },
            dump: args.graphite_dump.clone(),
        })
    } else {
        None
    };
    Ok(RunConfig {
        traffic,
        send,
        check,
    })
}

/// A non-negative, finite number of seconds.
fn seconds(flag: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| UsageError(format!("{flag} {value} is not a number of seconds")).into())
}

/// Runs the null server; prints the `listening` and `ready` lines statkit
/// serve prints, `progress` lines while traffic arrives, and totals at the end.
fn run_null(addr: SocketAddr, args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let mut config = NullConfig::new(addr);
    config.batch = args.null_batch.max(1);
    config.rcvbuf = args.rcvbuf;
    config.time_limit = seconds("--null-time-limit", args.null_time_limit)?;
    config.max_lines = args.null_max_lines;
    let stop = statkit_bench::stop_on_signals().context("installing signal handlers")?;
    let server = NullServer::bind(config).context("starting the null server")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening statsd-udp {}", server.udp_addr()?)?;
    writeln!(out, "listening statsd-tcp {}", server.tcp_addr()?)?;
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);
    let start = std::time::Instant::now();
    let (counts, reason) = server.run(stop, |c| {
        // A closed stdout must not stop the floor measurement.
        let _ = print_progress(c);
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "stopped {}", reason.as_str())?;
    writeln!(out, "lines {}", counts.lines)?;
    writeln!(out, "datagrams {}", counts.datagrams)?;
    writeln!(out, "bytes {}", counts.bytes)?;
    writeln!(out, "tcp_connections {}", counts.tcp_connections)?;
    writeln!(out, "elapsed_s {:.3}", start.elapsed().as_secs_f64())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn print_progress(c: &NullCounts) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "progress lines={} datagrams={} bytes={}",
        c.lines, c.datagrams, c.bytes
    )?;
    out.flush()
}
