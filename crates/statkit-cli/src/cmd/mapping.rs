//! `statkit mapping`: the two things people do when moving a
//! statsd_exporter mapping file to statkit: check it, and see what lines
//! become.
//!
//! - `check FILE`: every error with its line (exit 2), or the rules'
//!   count and any warnings (exit 0).
//! - `test FILE LINE...`: each line is aggregated and rendered exactly as
//!   `statkit serve --mapping-config FILE` (default settings otherwise)
//!   renders it on `/metrics` after one flush, with the rule that matched.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use statkit_agg::{Aggregator, Table};
use statkit_encode::prometheus::{metric_kind, render, Exposition, Format, Mapping};
use statkit_mapping::{Cache, Mapped, Mapper, MatchType};
use statkit_store::{split_key, Store};

use crate::cmd::UsageError;

#[derive(Debug, clap::Args)]
pub struct MappingArgs {
    #[command(subcommand)]
    command: MappingCommand,
}

#[derive(Debug, clap::Subcommand)]
enum MappingCommand {
    /// Check a mapping file: errors with their lines (exit 2), or the
    /// rules' count and warnings.
    Check {
        /// statsd_exporter's mapping file (YAML).
        file: PathBuf,
    },
    /// Print what statsd lines become on /metrics through a mapping file.
    Test {
        /// statsd_exporter's mapping file (YAML).
        file: PathBuf,
        /// statsd lines such as 'api.eu.requests:1|c' or 'api.eu.latency:12|ms'.
        #[arg(value_name = "LINE", required = true)]
        lines: Vec<String>,
        /// Print OpenMetrics instead of Prometheus text 0.0.4.
        #[arg(long)]
        openmetrics: bool,
    },
}

pub fn run(args: MappingArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        MappingCommand::Check { file } => check(&file),
        MappingCommand::Test {
            file,
            lines,
            openmetrics,
        } => {
            let format = if openmetrics {
                Format::OpenMetrics
            } else {
                Format::Text
            };
            test(&file, &lines, format)
        }
    }
}

fn load(file: &std::path::Path) -> Result<Mapper, UsageError> {
    statkit_serve::load_mapping(file).map_err(UsageError)
}

fn check(file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let mapper = load(file)?;
    let regex = mapper
        .rules()
        .iter()
        .filter(|r| r.match_type == MatchType::Regex)
        .count();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: {} rules ({} glob, {regex} regex), valid",
        file.display(),
        mapper.rules().len(),
        mapper.rules().len() - regex
    )?;
    for warning in mapper.warnings() {
        writeln!(out, "{warning}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn test(file: &std::path::Path, lines: &[String], format: Format) -> anyhow::Result<ExitCode> {
    let mapper = load(file)?;
    for line in lines {
        statkit::client::check_line(line)
            .map_err(|e| UsageError(format!("{line:?} is not a statsd line: {e}")))?;
    }
    // The default settings' buckets with the rules' added, as a server
    // with only --mapping-config counts them.
    let defaults = statkit_serve::config::layers()
        .resolve()
        .map_err(|e| UsageError(e.to_string()))?;
    let bounds =
        statkit_serve::store_bounds(&defaults, &mapper).map_err(|e| UsageError(e.to_string()))?;
    let mut out = String::new();
    for line in lines {
        let store = one_flush(line, &bounds);
        let _ = writeln!(out, "{line}");
        for (kind, key, _) in store.iter() {
            let name = split_key(key).0;
            let _ = match mapper.map(name, metric_kind(kind)) {
                Mapped::Unmapped => writeln!(out, "  no rule matches: the name as sent"),
                Mapped::Drop => writeln!(out, "  dropped (action: drop)"),
                Mapped::Metric(m) => {
                    writeln!(out, "  rule at line {}: {}", m.rule.line, m.rule.pattern)
                }
            };
        }
        let mut cache = Cache::new(16);
        let mut text = String::new();
        let mapping = Mapping {
            mapper: &mapper,
            cache: &mut cache,
        };
        render(
            &store,
            format,
            Exposition {
                mapping: Some(mapping),
                series_ttl: None,
                described: None,
            },
            &mut text,
        );
        for l in text.lines().filter(|l| *l != "# EOF") {
            let _ = writeln!(out, "  {l}");
        }
    }
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// A store that took one flush of `line`, without the server's own
/// series.
fn one_flush(line: &str, bounds: &Arc<[f64]>) -> Store {
    let options = statkit_agg::Options {
        buckets: bounds.clone(),
        ..statkit_agg::Options::default()
    };
    let mut aggregator = Aggregator::new(options);
    let mut table = Table::new(aggregator.options().table);
    table.ingest(line.as_bytes());
    aggregator.absorb(&mut table);
    let mut store = Store::new(statkit_store::Options {
        bounds: bounds.clone(),
        ..statkit_store::Options::default()
    });
    store.ingest(&aggregator.flush(0));
    let own: Vec<_> = store
        .iter()
        .filter(|(_, key, _)| store.is_own(key))
        .map(|(kind, key, _)| (kind, key.to_vec()))
        .collect();
    for (kind, key) in own {
        store.remove(kind, &key);
    }
    store
}
