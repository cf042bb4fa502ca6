//! One benchmark run from start to verdict: receiver up, first flush seen,
//! load sent, flushes settled, totals checked. And its report, as the
//! `key value` lines that `statkit bench` prints and `bench/compare.py`
//! parses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::batch::Batching;
use crate::graphite::{Receiver, Settle, Settled};
use crate::send::{send_with_progress, SendConfig, SendReport, Transport};
use crate::{CheckReport, Error, Flushed, Kind, Traffic, TrafficConfig, Truth};

/// Settings for checking what the server flushed.
#[derive(Clone, Debug)]
pub struct CheckConfig {
    /// Where the Graphite receiver listens (the server's Graphite target).
    pub listen: SocketAddr,
    /// How long to wait for the server's first flush before sending anyway.
    pub warmup_timeout: Duration,
    /// When to stop waiting for flushes after the load.
    pub settle: Settle,
    /// Also write every received Graphite line to this file.
    pub dump: Option<PathBuf>,
}

/// A whole run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// What to send.
    pub traffic: TrafficConfig,
    /// Where and how to send it.
    pub send: SendConfig,
    /// Whether and how to check the server's flushes.
    pub check: Option<CheckConfig>,
}

/// The outcome of the check part of a run.
#[derive(Clone, Debug)]
pub struct CheckOutcome {
    /// Whether the server's first flush arrived before the load started.
    pub warmup_flush: bool,
    /// How the wait for flushes after the load ended.
    pub settled: Settled,
    /// The verdict.
    pub report: CheckReport,
    /// Graphite connections the server opened to the receiver.
    pub connections: u64,
}

/// Everything a run found out.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The settings it ran with.
    pub config: RunConfig,
    /// What the sender did.
    pub send: SendReport,
    /// What should have been flushed.
    pub truth: Truth,
    /// The check, when one was asked for.
    pub check: Option<CheckOutcome>,
}

/// Where a run is, for a progress display ([`run_with_progress`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Waiting up to `timeout` for the server's first flush (with a check).
    Warmup { timeout: Duration },
    /// `sent` of `total` lines handed to the socket so far.
    Sending { sent: u64, total: u64 },
    /// The load is sent; waiting up to `timeout` for the flushes after it.
    Settling { timeout: Duration },
}

/// Runs `config`: sends the load and, if asked, checks the flushes.
pub fn run(config: RunConfig) -> Result<RunReport, Error> {
    run_with_progress(config, &mut |_| {})
}

/// [`run`], telling `progress` where it is: at each phase's start, and
/// while sending at most every [`crate::send::PROGRESS_EVERY`].
pub fn run_with_progress(
    config: RunConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunReport, Error> {
    crate::require_loopback(config.send.target)?;
    let mut traffic = Traffic::new(config.traffic.clone())?;
    let mut truth = Truth::new(config.traffic.names, config.traffic.sample_rate);
    let receiver = match &config.check {
        Some(check) => {
            let flushed = Flushed::new(&config.traffic.prefix, config.traffic.names);
            Some(Receiver::bind(
                check.listen,
                flushed,
                check.dump.as_deref(),
            )?)
        }
        None => None,
    };
    let warmup_flush = match (&receiver, &config.check) {
        (Some(r), Some(check)) => {
            progress(Progress::Warmup {
                timeout: check.warmup_timeout,
            });
            r.wait_first_flush(check.warmup_timeout)
        }
        _ => false,
    };
    let total = config.send.lines;
    progress(Progress::Sending { sent: 0, total });
    let sent = send_with_progress(&config.send, &mut traffic, &mut truth, &mut |sent| {
        progress(Progress::Sending { sent, total });
    })?;
    let load_end = Instant::now();
    let check = match (receiver, &config.check) {
        (Some(receiver), Some(check)) => {
            progress(Progress::Settling {
                timeout: check.settle.timeout,
            });
            let settled = receiver.wait_settled(&truth, load_end, check.settle);
            let report = receiver.check(&truth);
            let connections = receiver.connections();
            receiver.stop()?;
            Some(CheckOutcome {
                warmup_flush,
                settled,
                report,
                connections,
            })
        }
        _ => None,
    };
    Ok(RunReport {
        config,
        send: sent,
        truth,
        check,
    })
}

impl RunReport {
    /// The report as `(key, value)` pairs, in a fixed order; values never
    /// contain spaces. Counts are integers, rates and seconds have up to
    /// three decimals, percentages four.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut put = |k: &str, v: String| out.push((k.to_owned(), v));
        let (t, s) = (&self.config.traffic, &self.config.send);
        put("target", s.target.to_string());
        put(
            "transport",
            if s.transport == Transport::Tcp {
                "tcp"
            } else {
                "udp"
            }
            .into(),
        );
        put("mix", t.mix.to_string());
        put("names", t.names.to_string());
        put("prefix", t.prefix.clone());
        put("seed", t.seed.to_string());
        put(
            "batching",
            match s.batching {
                Batching::Single => "single".into(),
                Batching::Bytes(n) => n.to_string(),
            },
        );
        put(
            "rate_target",
            s.rate.map_or("unlimited".into(), |r| format!("{r:.0}")),
        );
        let sent = &self.send;
        put("lines_total", sent.lines.to_string());
        for kind in Kind::ALL {
            put(&format!("lines_{kind}"), sent.lines_of(kind).to_string());
        }
        for kind in Kind::ALL {
            put(
                &format!("names_{kind}"),
                self.truth.names_sent(kind).to_string(),
            );
        }
        put("datagrams", sent.writes.to_string());
        put("bytes", sent.bytes.to_string());
        let per = if sent.writes == 0 {
            0.0
        } else {
            sent.lines as f64 / sent.writes as f64
        };
        put("lines_per_datagram", format!("{per:.2}"));
        put("send_errors", sent.send_errors.to_string());
        put("lines_failed", sent.lines_failed.to_string());
        put("hit_time_limit", u8::from(sent.hit_time_limit).to_string());
        put("elapsed_s", format!("{:.3}", sent.elapsed.as_secs_f64()));
        put("rate_lines_per_s", format!("{:.0}", sent.rate()));
        put("rate_datagrams_per_s", format!("{:.0}", sent.write_rate()));
        put("expect_counter_sum", num(self.truth.total(Kind::Counter)));
        put(
            "expect_sampled_lines",
            self.truth.lines(Kind::Sampled).to_string(),
        );
        put(
            "expect_sampled_scaled",
            num(self.truth.total(Kind::Sampled)),
        );
        put("expect_timer_count", num(self.truth.total(Kind::Timer)));
        put(
            "expect_gauge_names",
            self.truth.names_sent(Kind::Gauge).to_string(),
        );
        put("expect_set_card_total", num(self.truth.total(Kind::Set)));
        let Some(check) = &self.check else { return out };
        let r = &check.report;
        put("warmup_flush", u8::from(check.warmup_flush).to_string());
        put(
            "settle_s",
            format!("{:.3}", check.settled.waited.as_secs_f64()),
        );
        put("flushes_after_load", check.settled.flushes.to_string());
        put("complete", u8::from(check.settled.complete).to_string());
        put("graphite_connections", check.connections.to_string());
        put("graphite_lines", r.graphite_lines.to_string());
        for kind in Kind::ALL {
            put(&format!("recv_{kind}"), num(r.kind(kind).received));
        }
        for kind in Kind::ALL {
            put(
                &format!("seen_names_{kind}"),
                r.kind(kind).names_seen.to_string(),
            );
        }
        put("loss_pct", format!("{:.4}", r.total_loss_pct()));
        for kind in [Kind::Counter, Kind::Sampled, Kind::Timer] {
            put(
                &format!("loss_pct_{kind}"),
                format!("{:.4}", r.loss_pct(kind)),
            );
        }
        for kind in Kind::ALL {
            let k = r.kind(kind);
            put(
                &format!("mismatches_{kind}"),
                (k.mismatches + k.unexpected).to_string(),
            );
        }
        put("sets_split", r.sets_split.to_string());
        put("out_of_range", r.out_of_range.to_string());
        put("malformed", r.malformed.to_string());
        put("mismatches", r.mismatches().to_string());
        put(
            "check",
            if r.mismatches() == 0 { "ok" } else { "fail" }.into(),
        );
        out
    }
}

/// A total without a pointless `.0`, and with no more than 3 decimals.
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn progress_goes_from_nothing_to_every_line_sent() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut send = SendConfig::new(rx.local_addr().unwrap());
        send.lines = 1000;
        let config = RunConfig {
            traffic: TrafficConfig {
                names: 10,
                ..TrafficConfig::default()
            },
            send,
            check: None,
        };
        let mut seen = Vec::new();
        run_with_progress(config, &mut |p| seen.push(p)).unwrap();
        let sent: Vec<u64> = seen
            .iter()
            .map(|p| match p {
                Progress::Sending { sent, total: 1000 } => *sent,
                other => panic!("no check, so only sending: {other:?}"),
            })
            .collect();
        assert_eq!(sent.first(), Some(&0));
        assert_eq!(sent.last(), Some(&1000));
        assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");
    }

    #[test]
    fn report_has_the_documented_keys_in_order() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut send = SendConfig::new(rx.local_addr().unwrap());
        send.lines = 100;
        let config = RunConfig {
            traffic: TrafficConfig {
                names: 10,
                ..TrafficConfig::default()
            },
            send,
            check: None,
        };
        let report = run(config).unwrap();
        let pairs = report.pairs();
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            &keys[..9],
            [
                "target",
                "transport",
                "mix",
                "names",
                "prefix",
                "seed",
                "batching",
                "rate_target",
                "lines_total"
            ]
        );
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("lines_total"), Some("100"));
        assert_eq!(get("lines_c"), Some("50"));
        assert_eq!(get("lines_ms"), Some("20"));
        assert_eq!(get("names_c"), Some("10"));
        assert_eq!(get("expect_counter_sum"), Some("50"));
        assert_eq!(get("expect_sampled_scaled"), Some("100"));
        assert_eq!(get("rate_target"), Some("unlimited"));
        assert_eq!(get("loss_pct"), None);
        assert!(pairs
            .iter()
            .all(|(k, v)| !k.contains(' ') && !v.contains(' ') && !v.is_empty()));
    }

    #[test]
    fn numbers_print_plainly() {
        assert_eq!(num(20.0), "20");
        assert_eq!(num(2.5), "2.500");
        assert_eq!(num(1.0 / 3.0), "0.333");
    }
}
