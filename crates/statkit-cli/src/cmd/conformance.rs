//! `statkit conformance`: plays the statsd conformance suite (`conformance/`)
//! in process against statkit's aggregation, or over the network against
//! any statsd server that flushes Graphite plaintext.
//!
//! One line per case (`pass`, `differs as documented (DIALECT)`, `FAIL`
//! with the difference, or `skip` with the reason), then the summary line
//! `N passed, M failed`. Exits 1 when a case failed.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use statkit_conformance::case::{Settings, DIALECTS};
use statkit_conformance::graphite::{unplayable, Namespace, Runner, Target};
use statkit_conformance::in_process::{self, Profile};
use statkit_conformance::outcome::Tally;
use statkit_conformance::{judge, load_suite, Case, Verdict};

use crate::cmd::UsageError;

#[derive(Debug, clap::Args)]
pub struct ConformanceArgs {
    /// Play the suite through statkit's own aggregation, in this process.
    /// The default when no --target is given.
    #[arg(long, conflicts_with_all = ["target", "graphite_listen"])]
    in_process: bool,

    /// statkit settings for --in-process: `default`, or `etsy-strict`
    /// (etsy's sample rates and no statkit limits).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "default",
        value_parser = ["default", "etsy-strict"],
        conflicts_with = "target"
    )]
    profile: String,

    /// A statsd server to play the suite against over UDP. It must flush
    /// Graphite plaintext to --graphite-listen and delete idle series
    /// (etsy's deleteIdleStats); see --target-settings for the rest.
    #[arg(long, value_name = "HOST:PORT", requires = "graphite_listen")]
    target: Option<String>,

    /// Where to listen for the target's Graphite flushes.
    #[arg(long, value_name = "ADDR", requires = "target")]
    graphite_listen: Option<String>,

    /// The target's Graphite names: etsy's `legacy` layout (its default)
    /// or the `new` one (legacyNamespace false).
    #[arg(long, value_name = "LAYOUT", default_value = "legacy", value_parser = ["legacy", "new"])]
    namespace: String,

    /// A TOML file of the settings the target runs (the keys of a case's
    /// `[settings]`); cases needing other settings are skipped. Without
    /// it the target is taken to run the defaults.
    #[arg(long, value_name = "FILE", requires = "target")]
    target_settings: Option<PathBuf>,

    /// The longest wait for one flush of the target, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    flush_wait: f64,

    /// Judge against this dialect's documented answers (statkit's where a
    /// case documents none) instead of statkit's.
    #[arg(long, value_name = "DIALECT")]
    dialect: Option<String>,

    /// The suite's folder.
    #[arg(long, value_name = "DIR", default_value = "conformance")]
    suite: PathBuf,

    /// Only the cases whose id contains this text.
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
}

pub fn run(args: ConformanceArgs) -> anyhow::Result<ExitCode> {
    if let Some(dialect) = &args.dialect {
        if !DIALECTS.contains(&dialect.as_str()) {
            return Err(UsageError(format!(
                "--dialect {dialect}: not one of {}",
                DIALECTS.join(", ")
            ))
            .into());
        }
    }
    let cases: Vec<Case> = load_suite(&args.suite)
        .map_err(|e| UsageError(e.to_string()))?
        .into_iter()
        .filter(|c| {
            args.filter
                .as_ref()
                .is_none_or(|f| c.id.contains(f.as_str()))
        })
        .collect();
    let dialect = args.dialect.as_deref();
    let mut tally = Tally::default();
    let mut report = |case: &Case, verdict: Verdict| {
        println!("{}", verdict.line(&case.id));
        tally.add(&verdict);
    };
    match (&args.target, &args.graphite_listen) {
        (Some(target), Some(listen)) => {
            let mut runner = Runner::start(network_target(&args, target, listen)?)?;
            runner
                .wait_ready()
                .context("waiting for the target's first flush")?;
            let settings = match &args.target_settings {
                Some(path) => Settings::from_file(path).map_err(|e| UsageError(e.to_string()))?,
                None => Settings::default(),
            };
            for case in &cases {
                let verdict = match unplayable(case, &settings, dialect) {
                    None => {
                        let observed = runner
                            .run(case)
                            .with_context(|| format!("playing {}", case.id))?;
                        judge(case, &observed, dialect)
                    }
                    Some(why) => Verdict::Skipped(why),
                };
                report(case, verdict);
            }
        }
        _ => {
            let profile = match args.profile.as_str() {
                "etsy-strict" => Profile::EtsyStrict,
                _ => Profile::Default,
            };
            for case in &cases {
                report(case, judge(case, &in_process::run(case, profile), dialect));
            }
        }
    }
    println!("{}", tally.summary());
    Ok(if tally.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn network_target(args: &ConformanceArgs, target: &str, listen: &str) -> anyhow::Result<Target> {
    let resolve = |flag: &str, text: &str| -> anyhow::Result<SocketAddr> {
        text.to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| UsageError(format!("{flag} {text}: not a HOST:PORT address")).into())
    };
    if !(args.flush_wait.is_finite() && args.flush_wait > 0.0) {
        return Err(UsageError(format!(
            "--flush-wait {}: not a positive number of seconds",
            args.flush_wait
        ))
        .into());
    }
    Ok(Target {
        statsd: resolve("--target", target)?,
        graphite_listen: resolve("--graphite-listen", listen)?,
        namespace: match args.namespace.as_str() {
            "new" => Namespace::New,
            _ => Namespace::Legacy,
        },
        flush_wait: Duration::from_secs_f64(args.flush_wait),
    })
}
