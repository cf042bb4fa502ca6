//! Answers to admin commands, in etsy statsd's words.

use std::fmt::Write;

use statkit_agg::{Aggregator, Kind};

use statkit_encode::inspect::{object, Item};

use super::{Admin, May};
use crate::requests::Query;
use crate::support::unix_now;

/// What to do after a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    Text(String),
    Close,
}

const HELP: &str = "Commands: stats, counters, timers, gauges, sets, delcounters, deltimers, delgauges, delsets, health, config, requests [stats|rtimes|view|reset|quit], quit\n\n";

/// The reply to one command line, from a session that `may` change the
/// server or not.
pub(crate) fn respond(admin: &Admin, line: &str, may: May) -> Reply {
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or("");
    let parameters: Vec<&str> = words.collect();
    let changes_state = matches!(
        command,
        "quit" | "delcounters" | "deltimers" | "delgauges" | "delsets"
    ) || (command == "health" && !parameters.is_empty())
        || (command == "requests" && matches!(parameters.first(), Some(&("reset" | "quit"))));
    if changes_state {
        let refusal = match may {
            May::Change => None,
            May::NotFromAfar => Some("is only accepted from loopback clients"),
            May::OnlyOnTheSocket => Some("is only accepted on the admin socket (admin.changes)"),
            May::Never => Some("is turned off (admin.changes)"),
        };
        if let Some(refusal) = refusal {
            return Reply::Text(format!("ERROR: {command} {refusal}\n"));
        }
    }
    Reply::Text(match command {
        "help" => HELP.to_owned(),
        "config" => crate::settings::plain_lines(&admin.settings),
        "health" => health(admin, parameters.first().copied()),
        "stats" => stats(admin),
        "counters" => with_current(admin, |a| {
            object(a.counters().map(|(k, v)| (k, Item::Number(v))))
        }),
        "gauges" => with_current(admin, |a| {
            object(a.gauges().map(|(k, v)| (k, Item::Number(v))))
        }),
        "timers" => with_current(admin, |a| {
            object(a.timers().map(|(k, t)| (k, Item::Numbers(t.values()))))
        }),
        "sets" => with_current(admin, |a| {
            object(a.sets().map(|(k, members)| (k, Item::Strings(members))))
        }),
        "delcounters" => delete(admin, Kind::Counters, &parameters),
        "deltimers" => delete(admin, Kind::Timers, &parameters),
        "delgauges" => delete(admin, Kind::Gauges, &parameters),
        "delsets" => delete(admin, Kind::Sets, &parameters),
        "requests" => return requests(admin, &parameters),
        "quit" => return Reply::Close,
        _ => "ERROR\n".to_owned(),
    })
}

/// The request view (gstats' collector commands), JSON framed as etsy
/// frames listings; `quit` stops the server.
fn requests(admin: &Admin, parameters: &[&str]) -> Reply {
    let query = match parameters {
        [] | ["stats"] => Query::Stats,
        ["rtimes"] => Query::Rtimes,
        ["view"] => Query::View,
        ["reset"] => Query::Reset,
        ["quit"] => {
            admin.status.quit();
            return Reply::Close;
        }
        _ => return Reply::Text("ERROR: usage: requests [stats|rtimes|view|reset|quit]\n".into()),
    };
    Reply::Text(format!("{}\nEND\n\n", admin.requests.answer(query)))
}

/// Runs `show` on the aggregate including what receivers hold right now,
/// and frames the answer as etsy does.
fn with_current(admin: &Admin, show: impl FnOnce(&Aggregator) -> String) -> String {
    format!("{}\nEND\n\n", admin.pipeline.read(show))
}

fn health(admin: &Admin, action: Option<&str>) -> String {
    match action.map(str::to_ascii_lowercase).as_deref() {
        Some("up") => admin.status.set_healthy(true),
        Some("down") => admin.status.set_healthy(false),
        _ => {}
    }
    let status = if admin.status.is_healthy() {
        "up"
    } else {
        "down"
    };
    format!("health: {status}\n")
}

fn stats(admin: &Admin) -> String {
    let now = unix_now();
    let started = admin.status.started;
    let mut out = format!("uptime: {}\n", now.saturating_sub(started));
    let (totals, _) = admin.pipeline.totals();
    let last = admin.pipeline.last_message().max(started);
    let _ = writeln!(out, "messages.last_msg_seen: {}", now.saturating_sub(last));
    // etsy counts each rejected value (one line can hold several).
    let _ = writeln!(out, "messages.bad_lines_seen: {}", totals.bad_values);
    for (sink, dropped) in admin.sinks.drops() {
        let _ = writeln!(out, "{sink}.dropped_flushes: {dropped}");
    }
    out.push_str("END\n\n");
    out
}

/// Deletes from the aggregation and, so that the series leaves `/metrics`
/// and the dashboard at once, from the history store.
fn delete(admin: &Admin, kind: Kind, patterns: &[&str]) -> String {
    let stored = match kind {
        Kind::Counters => statkit_store::Kind::Counter,
        Kind::Gauges => statkit_store::Kind::Gauge,
        Kind::Timers => statkit_store::Kind::Timer,
        Kind::Sets => statkit_store::Kind::Set,
    };
    let mut out = String::new();
    for deleted in admin.pipeline.delete(kind, patterns) {
        if deleted.names.is_empty() {
            let _ = writeln!(out, "metric {} not found", deleted.pattern);
        }
        if let Some(history) = &admin.history {
            let mut store = history.write();
            for name in &deleted.names {
                store.remove(stored, name);
            }
        }
        for name in deleted.names {
            let _ = writeln!(out, "deleted: {}", String::from_utf8_lossy(&name));
        }
    }
    out.push_str("END\n\n");
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{respond, Reply};
    use crate::admin::{Admin, May};
    use crate::sink::Fanout;

    fn admin() -> (Admin, crate::pipeline::Intake) {
        let (context, intake) = crate::testing::context(Fanout::default());
        let admin = Admin {
            pipeline: context.pipeline.clone(),
            status: context.status.clone(),
            sinks: Fanout::default(),
            requests: context.requests.clone(),
            settings: Arc::new(crate::config::layers().resolve().unwrap()),
            history: Some(context.history.clone()),
        };
        (admin, intake)
    }

    fn text(reply: Reply) -> String {
        match reply {
            Reply::Text(text) => text,
            Reply::Close => "<closed>".into(),
        }
    }

    #[test]
    fn clients_from_afar_may_read_but_not_change() {
        let (admin, intake) = admin();
        intake.fill(|t| t.ingest(b"kept:1|c"));
        for command in [
            "delcounters kept",
            "health down",
            "requests reset",
            "requests quit",
            "quit",
        ] {
            let reply = text(respond(&admin, command, May::NotFromAfar));
            let word = command.split(' ').next().unwrap();
            assert_eq!(
                reply,
                format!("ERROR: {word} is only accepted from loopback clients\n")
            );
        }
        assert!(text(respond(&admin, "counters", May::NotFromAfar)).contains("kept: 1"));
        assert_eq!(
            text(respond(&admin, "health", May::NotFromAfar)),
            "health: up\n"
        );
        assert!(admin.status.is_healthy());
        let history = admin.history.clone().unwrap();
        history
            .write()
            .ingest(&admin.pipeline.flush(1000, None, false).snapshot);
        intake.fill(|t| t.ingest(b"kept:1|c"));
        assert_eq!(
            text(respond(&admin, "delcounters kept", May::Change)),
            "deleted: kept\nEND\n\n"
        );
        let store = history.read();
        let gone = store.get(statkit_store::Kind::Counter, b"kept").is_none();
        assert!(gone, "a deleted series leaves the history store too");
        assert_eq!(text(respond(&admin, "quit", May::Change)), "<closed>");
    }
}
