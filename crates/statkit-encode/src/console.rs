//! The console sink's text: each flush in full ([`render`], every series,
//! for debugging what the server receives) or as one line ([`summary`],
//! what a person at a terminal running `statkit serve` wants to see go by).

use std::io::Write;

use statkit_agg::Snapshot;

/// One block per flush: a header, then one line per series with its main
/// values, counters first as etsy orders them.
pub fn render(snapshot: &Snapshot, out: &mut impl Write) -> std::io::Result<()> {
    let name = |key: &[u8]| String::from_utf8_lossy(key).into_owned();
    writeln!(
        out,
        "flush at {} ({} series, {:.3} s interval)",
        snapshot.timestamp,
        snapshot.num_stats,
        snapshot.interval_ms / 1000.0
    )?;
    for (key, c) in snapshot.counters() {
        writeln!(
            out,
            "  counter {} count={} rate={}/s",
            name(key),
            c.count,
            c.rate
        )?;
    }
    for (key, t) in snapshot.timers() {
        match &t.stats {
            Some(s) => {
                write!(
                    out,
                    "  timer   {} count={} min={} mean={} median={} max={}",
                    name(key),
                    t.count,
                    s.lower,
                    s.mean,
                    s.median,
                    s.upper
                )?;
                for th in &s.thresholds {
                    let p = &snapshot.percentiles[th.percentile];
                    write!(
                        out,
                        " {}{}={}",
                        if p.pct() > 0.0 { "upper_" } else { "lower_" },
                        p.label(),
                        th.bound
                    )?;
                }
                writeln!(out, "{}", if s.sketched { " (sketched)" } else { "" })?;
            }
            None => {
                writeln!(out, "  timer   {} count=0", name(key))?;
            }
        }
    }
    for (key, v) in snapshot.gauges() {
        writeln!(out, "  gauge   {} {}", name(key), v)?;
    }
    for (key, n) in snapshot.sets() {
        writeln!(out, "  set     {} {} members", name(key), n)?;
    }
    Ok(())
}

/// What the summary line needs besides the snapshot.
#[derive(Clone, Copy, Debug, Default)]
pub struct SummaryContext<'a> {
    /// etsy's `prefixStats` (`statsd`): the summary's line counts are its
    /// `<prefix>.metrics_received` and `<prefix>.bad_lines_seen` counters.
    pub prefix_stats: &'a str,
    /// Flushes the console skipped since the last one it printed, because
    /// it fell behind (a stalled terminal).
    pub skipped_flushes: u64,
}

/// One line per flush: the time (UTC), the series flushed, the statsd
/// lines received and the bad ones among them, datagrams the kernel dropped
/// because the server fell behind; then, only when there were any, series
/// refused (the series limit) and flushes this console skipped.
///
/// `flush 22:10:00Z: 42 series, 1200 lines received, 3 bad, 0 dropped`
pub fn summary(
    snapshot: &Snapshot,
    context: SummaryContext<'_>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let counter = |suffix: &str| -> f64 {
        let key = format!("{}.{suffix}", context.prefix_stats);
        snapshot
            .counters()
            .find(|(name, _)| *name == key.as_bytes())
            .map_or(0.0, |(_, c)| c.count)
    };
    let own = |name: &str| -> f64 {
        snapshot
            .own
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .sum()
    };
    let seconds = snapshot.timestamp % 86_400;
    write!(
        out,
        "flush {:02}:{:02}:{:02}Z: {} series, {} lines received, {} bad, {} dropped",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        snapshot.num_stats,
        counter("metrics_received"),
        counter("bad_lines_seen"),
        own("udp_kernel_drops"),
    )?;
    let refused = own("series_refused");
    if refused > 0.0 {
        write!(out, ", {refused} series refused")?;
    }
    if context.skipped_flushes > 0 {
        write!(
            out,
            ", {} flushes not shown (the console fell behind)",
            context.skipped_flushes
        )?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::{render, summary, SummaryContext};
    use statkit_agg::{Aggregator, Options, Table, TableOptions};

    #[test]
    fn shows_every_series() {
        let mut agg = Aggregator::new(Options::default());
        let mut table = Table::new(TableOptions::default());
        table.ingest(b"hits:2|c\nlat:5|ms\nlat:7|ms\nq:3|g\nu:a|s");
        agg.absorb(&mut table);
        let mut out = Vec::new();
        render(&agg.flush(42), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("flush at 42 (7 series, 10.000 s interval)\n"),
            "{text}"
        );
        assert!(text.contains("  counter hits count=2 rate=0.2/s\n"));
        assert!(text.contains("  timer   lat count=2 min=5 mean=6 median=6 max=7 upper_90=7\n"));
        assert!(text.contains("  gauge   q 3\n"));
        assert!(text.contains("  set     u 1 members\n"));
    }

    #[test]
    fn summary_is_one_line_of_counts() {
        let mut agg = Aggregator::new(Options::default());
        let mut table = Table::new(TableOptions::default());
        table.ingest(b"hits:2|c\nlat:5|ms\nnot a line\nq:3|g");
        agg.absorb(&mut table);
        let mut snapshot = agg.flush(1_700_000_000 + 3_723);
        snapshot.own.push(("udp_kernel_drops", 4.0));
        let context = SummaryContext {
            prefix_stats: "statsd",
            skipped_flushes: 0,
        };
        let mut out = Vec::new();
        summary(&snapshot, context, &mut out).unwrap();
        let series = snapshot.num_stats;
        // 1_700_000_000 is 22:13:20 UTC; an hour, two minutes and three
        // seconds later. Lines received count the bad one too, as etsy's
        // metrics_received does.
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("flush 23:15:23Z: {series} series, 4 lines received, 1 bad, 4 dropped\n")
        );

        snapshot.own.push(("series_refused", 2.0));
        let mut out = Vec::new();
        let context = SummaryContext {
            skipped_flushes: 5,
            ..context
        };
        summary(&snapshot, context, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with(", 2 series refused, 5 flushes not shown (the console fell behind)\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1);
    }
}
