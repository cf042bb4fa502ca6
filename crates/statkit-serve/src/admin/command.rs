//! Answers to admin commands, in etsy statsd's words.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use statkit_agg::{Aggregator, Kind};
use statkit_encode::inspect::{object, Item};

use crate::requests::{self, Query};
use crate::source::lock;
use crate::state::{unix_now, Shared};

/// What to do after a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    Text(String),
    Close,
}

const HELP: &str = "Commands: stats, counters, timers, gauges, sets, delcounters, deltimers, delgauges, delsets, health, config, requests [stats|rtimes|view|reset|quit], quit\n\n";

/// The reply to one command line. `loopback` says whether the client may
/// change state.
pub(crate) fn respond(shared: &Shared, line: &str, loopback: bool) -> Reply {
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or("");
    let parameters: Vec<&str> = words.collect();
    let changes_state = matches!(
        command,
        "quit" | "delcounters" | "deltimers" | "delgauges" | "delsets"
    ) || (command == "health" && !parameters.is_empty())
        || (command == "requests" && matches!(parameters.first(), Some(&("reset" | "quit"))));
    if changes_state && !loopback {
        return Reply::Text(format!(
            "ERROR: {command} is only accepted from loopback clients\n"
        ));
    }
    Reply::Text(match command {
        "help" => HELP.to_owned(),
        "config" => config(shared),
        "health" => health(shared, parameters.first().copied()),
        "stats" => stats(shared),
        "counters" => with_current(shared, |a| {
            object(a.counters().map(|(k, v)| (k, Item::Number(v))))
        }),
        "gauges" => with_current(shared, |a| {
            object(a.gauges().map(|(k, v)| (k, Item::Number(v))))
        }),
        "timers" => with_current(shared, |a| {
            object(a.timers().map(|(k, t)| (k, Item::Numbers(t.values()))))
        }),
        "sets" => with_current(shared, |a| {
            object(a.sets().map(|(k, members)| (k, Item::Strings(members))))
        }),
        "delcounters" => delete(shared, Kind::Counters, &parameters),
        "deltimers" => delete(shared, Kind::Timers, &parameters),
        "delgauges" => delete(shared, Kind::Gauges, &parameters),
        "delsets" => delete(shared, Kind::Sets, &parameters),
        "requests" => return requests(shared, &parameters),
        "quit" => return Reply::Close,
        _ => "ERROR\n".to_owned(),
    })
}

/// The request view (gstats' collector commands), JSON framed as etsy
/// frames listings; `quit` stops the server.
fn requests(shared: &Shared, parameters: &[&str]) -> Reply {
    let query = match parameters {
        [] | ["stats"] => Query::Stats,
        ["rtimes"] => Query::Rtimes,
        ["view"] => Query::View,
        ["reset"] => Query::Reset,
        ["quit"] => {
            shared.quit.notify_one();
            return Reply::Close;
        }
        _ => return Reply::Text("ERROR: usage: requests [stats|rtimes|view|reset|quit]\n".into()),
    };
    Reply::Text(format!("{}\nEND\n\n", requests::answer(shared, query)))
}

/// Runs `show` on the aggregate including what receivers hold right now,
/// and frames the answer as etsy does.
fn with_current(shared: &Shared, show: impl FnOnce(&Aggregator) -> String) -> String {
    let mut aggregator = lock(&shared.aggregator);
    shared.absorb_all(&mut aggregator);
    format!("{}\nEND\n\n", show(&aggregator))
}

fn health(shared: &Shared, action: Option<&str>) -> String {
    match action.map(str::to_ascii_lowercase).as_deref() {
        Some("up") => shared.healthy.store(true, Ordering::Relaxed),
        Some("down") => shared.healthy.store(false, Ordering::Relaxed),
        _ => {}
    }
    let status = if shared.healthy.load(Ordering::Relaxed) {
        "up"
    } else {
        "down"
    };
    format!("health: {status}\n")
}

fn stats(shared: &Shared) -> String {
    let now = unix_now();
    let mut out = format!("uptime: {}\n", now.saturating_sub(shared.started));
    let (totals, _) = shared.ingest_totals();
    let last = shared
        .last_message
        .load(Ordering::Relaxed)
        .max(shared.started);
    let _ = writeln!(out, "messages.last_msg_seen: {}", now.saturating_sub(last));
    let _ = writeln!(out, "messages.bad_lines_seen: {}", totals.bad_lines);
    for queue in &shared.queues {
        let _ = writeln!(
            out,
            "{}.dropped_flushes: {}",
            queue.name(),
            queue.dropped.load(Ordering::Relaxed)
        );
    }
    out.push_str("END\n\n");
    out
}

fn delete(shared: &Shared, kind: Kind, patterns: &[&str]) -> String {
    let mut aggregator = lock(&shared.aggregator);
    shared.absorb_all(&mut aggregator);
    let mut out = String::new();
    for pattern in patterns {
        let names = aggregator.matching(kind, pattern.as_bytes());
        if names.is_empty() {
            let _ = writeln!(out, "metric {pattern} not found");
        }
        for name in names {
            aggregator.delete(kind, &name);
            let _ = writeln!(out, "deleted: {}", String::from_utf8_lossy(&name));
        }
    }
    out.push_str("END\n\n");
    out
}

/// The effective settings, one `name: value` line each, as etsy lists its
/// configuration.
fn config(shared: &Shared) -> String {
    let c = &shared.config;
    let a = &c.aggregation;
    let n = &c.naming;
    let pcts: Vec<String> = a
        .percentiles
        .iter()
        .map(|p| statkit_wire::jsnum::to_string(p.pct()))
        .collect();
    let mut out = String::from("\n");
    let mut line = |name: &str, value: String| {
        let _ = writeln!(out, "{name}: {value}");
    };
    line("statsd", c.statsd.to_string());
    line("admin", c.admin.to_string());
    line(
        "http",
        c.http.map_or_else(|| "off".to_owned(), |a| a.to_string()),
    );
    line(
        "unix_socket",
        c.unix_socket
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    line(
        "flush_interval",
        statkit_wire::jsnum::to_string(a.interval_ms / 1000.0),
    );
    line("percent_thresholds", pcts.join(","));
    line("graphite", c.graphite.join(","));
    line("console", c.console.to_string());
    line("receivers", c.receivers.to_string());
    line("rcvbuf", c.rcvbuf.to_string());
    line("max_datagram", c.max_datagram.to_string());
    line(
        "sample_rates",
        format!("{:?}", a.table.weighting).to_lowercase(),
    );
    line("timer_exact_limit", a.table.timer_exact_limit.to_string());
    line("max_series", a.table.max_series.to_string());
    line("max_key_bytes", a.table.max_key_bytes.to_string());
    line("max_set_members", a.table.max_set_members.to_string());
    line("key_sanitize", a.table.sanitize_keys.to_string());
    line("delete_counters", a.deletion.counters.to_string());
    line("delete_gauges", a.deletion.gauges.to_string());
    line("delete_timers", a.deletion.timers.to_string());
    line("delete_sets", a.deletion.sets.to_string());
    line("gauges_max_ttl", a.gauges_max_ttl.to_string());
    line("prefix_stats", a.prefix_stats.clone());
    line(
        "graphite_names > legacy_namespace",
        n.legacy_namespace.to_string(),
    );
    line("graphite_names > global_prefix", n.global_prefix.clone());
    line(
        "graphite_names > global_suffix",
        n.global_suffix.clone().unwrap_or_default(),
    );
    line("graphite_names > flush_counts", n.flush_counts.to_string());
    out
}
