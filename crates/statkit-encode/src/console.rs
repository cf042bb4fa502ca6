//! The console sink's text: each flush as a short summary, for trying
//! statkit out and for debugging what it receives.

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

#[cfg(test)]
mod tests {
    use super::render;
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
}
