//! gstats' outputs: the collector's JSON replies, gstatsctl's text, and
//! the Python 2 float printing both gstatsctl and the munin plug-ins use.
//!
//! JSON is compact, as pyzmq's `send_json` wrote it; prefixes come sorted
//! by name (gstats' order was Python 2's dict order, i.e. arbitrary).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use statkit_requests::{PrefixReport, ViewCounts};

/// One prefix in gstats' `STATS` reply.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrefixStats {
    pub started: u64,
    pub finished: u64,
    pub processing_time: ProcessingTime,
}

/// Mean and population standard deviation of recent durations, in ms.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessingTime {
    pub avg: f64,
    pub std: f64,
}

/// gstats' `STATS` reply: `{prefix: {started, finished, processing_time: {avg, std}}}`.
pub type StatsReply = BTreeMap<String, PrefixStats>;
/// gstats' `RTIMES` reply: `{prefix: [ms, ...]}`.
pub type RtimesReply = BTreeMap<String, Vec<f64>>;

/// A reply the collector sent that is not the JSON expected.
#[derive(Debug, thiserror::Error)]
#[error("not a gstats reply: {0}")]
pub struct ReplyError(#[from] serde_json::Error);

impl From<&PrefixReport> for PrefixStats {
    fn from(r: &PrefixReport) -> Self {
        PrefixStats {
            started: r.started,
            finished: r.finished,
            processing_time: ProcessingTime {
                avg: r.avg,
                std: r.std,
            },
        }
    }
}

/// The `STATS` reply for `reports`.
pub fn stats_json(reports: &[PrefixReport]) -> String {
    let map: BTreeMap<&str, PrefixStats> = reports
        .iter()
        .map(|r| (r.prefix.as_str(), PrefixStats::from(r)))
        .collect();
    to_json(&map)
}

/// The `RTIMES` reply for `reports`.
pub fn rtimes_json(reports: &[PrefixReport]) -> String {
    let map: BTreeMap<&str, &[f64]> = reports
        .iter()
        .map(|r| (r.prefix.as_str(), r.recent.as_slice()))
        .collect();
    to_json(&map)
}

/// statkit's fuller view: `{"prefixes": {prefix: every field of
/// [`PrefixReport`] but the recent durations}, "dropped": counts}`.
pub fn view_json(reports: &[PrefixReport], counts: &ViewCounts) -> String {
    #[derive(Serialize)]
    struct Full<'a> {
        started: u64,
        finished: u64,
        processing: u64,
        processing_time: ProcessingTime,
        window_count: u64,
        per_second: [f64; 3],
        statuses: &'a BTreeMap<u16, u64>,
        workers: Option<f64>,
    }
    let map: BTreeMap<&str, Full<'_>> = reports
        .iter()
        .map(|r| {
            let full = Full {
                started: r.started,
                finished: r.finished,
                processing: r.processing,
                processing_time: PrefixStats::from(r).processing_time,
                window_count: r.window_count,
                per_second: r.per_second,
                statuses: &r.statuses,
                workers: r.workers,
            };
            (r.prefix.as_str(), full)
        })
        .collect();
    #[derive(Serialize)]
    struct View<'a> {
        prefixes: BTreeMap<&'a str, Full<'a>>,
        dropped: &'a ViewCounts,
    }
    to_json(&View {
        prefixes: map,
        dropped: counts,
    })
}

fn to_json(value: &impl Serialize) -> String {
    // Maps with string keys and finite numbers always serialize; a NaN
    // (which no reading produces) would become null.
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

pub fn parse_stats(json: &[u8]) -> Result<StatsReply, ReplyError> {
    Ok(serde_json::from_slice(json)?)
}

pub fn parse_rtimes(json: &[u8]) -> Result<RtimesReply, ReplyError> {
    Ok(serde_json::from_slice(json)?)
}

/// gstatsctl's `stats` output.
pub fn stats_text(stats: &StatsReply) -> String {
    let mut out = String::new();
    for (prefix, s) in stats {
        let processing = s.started as i128 - s.finished as i128;
        let _ = write!(
            out,
            "{prefix}\n{}\nRequests: started={}, finished={}, processing={processing}\n\
             Response time: average={}, stdev={}\n\n",
            "=".repeat(prefix.len()),
            s.started,
            s.finished,
            py2_float(s.processing_time.avg),
            py2_float(s.processing_time.std),
        );
    }
    out
}

/// gstatsctl's `rtimes PREFIX` output: one duration per line, or one
/// empty line for a prefix it does not know.
pub fn rtimes_text(rtimes: &RtimesReply, prefix: &str) -> String {
    match rtimes.get(prefix) {
        None => "\n".to_owned(),
        Some(values) => values.iter().map(|v| py2_float(*v) + "\n").collect(),
    }
}

/// A float as Python 2's `str()` prints it: 12 significant digits (`%.12g`),
/// with `.0` added when that leaves no point or exponent.
pub fn py2_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    const DIGITS: i32 = 12;
    let scientific = format!("{:.*e}", (DIGITS - 1) as usize, x);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..DIGITS).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim_zeros(mantissa), exponent.abs());
    }
    let fixed = format!("{:.*}", (DIGITS - 1 - exponent) as usize, x);
    let fixed = trim_zeros(&fixed);
    if fixed.contains('.') {
        fixed.to_owned()
    } else {
        format!("{fixed}.0")
    }
}

/// `12.500` -> `12.5`, `20.000` -> `20`; integers stay as they are.
fn trim_zeros(number: &str) -> &str {
    if !number.contains('.') {
        return number;
    }
    number.trim_end_matches('0').trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python2_str_of_floats() {
        let cases = [
            (20.21765708923333, "20.2176570892"),
            (8.172182550023296, "8.17218255002"),
            (20.21765708923333 - 8.172182550023296, "12.0454745392"),
            (10.222196579, "10.222196579"),
            (30.2398204803, "30.2398204803"),
            (12.5, "12.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (100.0, "100.0"),
            (1e16, "1e+16"),
            (123456789012.0, "123456789012.0"),
            (1234567890123.0, "1.23456789012e+12"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (-2.5, "-2.5"),
            (999999999999.9, "1e+12"),
        ];
        for (x, want) in cases {
            assert_eq!(py2_float(x), want, "{x}");
        }
    }

    fn sample() -> Vec<PrefixReport> {
        let report = |prefix: &str, started, finished, avg, std, recent: Vec<f64>| PrefixReport {
            prefix: prefix.to_owned(),
            started,
            finished,
            processing: 0,
            avg,
            std,
            window_count: recent.len() as u64,
            per_second: [0.0; 3],
            statuses: BTreeMap::new(),
            workers: None,
            recent,
        };
        vec![
            report("default", 1, 0, 0.0, 0.0, vec![]),
            report(
                "my_app",
                3,
                3,
                20.21765708923333,
                8.172182550023296,
                vec![10.222196579, 20.1909542084, 30.2398204803],
            ),
            report("other.App-1", 1, 0, 0.0, 0.0, vec![]),
            report("raw", 2, 1, 12.5, 0.0, vec![12.5]),
        ]
    }

    #[test]
    fn gstats_json_shapes() {
        let stats = stats_json(&sample());
        assert_eq!(
            stats,
            r#"{"default":{"started":1,"finished":0,"processing_time":{"avg":0.0,"std":0.0}},"my_app":{"started":3,"finished":3,"processing_time":{"avg":20.21765708923333,"std":8.172182550023296}},"other.App-1":{"started":1,"finished":0,"processing_time":{"avg":0.0,"std":0.0}},"raw":{"started":2,"finished":1,"processing_time":{"avg":12.5,"std":0.0}}}"#
        );
        // gstats' own reply (other key order) reads back the same.
        let theirs = br#"{"my_app":{"started":3,"processing_time":{"std":8.172182550023296,"avg":20.21765708923333},"finished":3},"default":{"started":1,"processing_time":{"std":0.0,"avg":0.0},"finished":0},"other.App-1":{"started":1,"processing_time":{"std":0.0,"avg":0.0},"finished":0},"raw":{"started":2,"processing_time":{"std":0.0,"avg":12.5},"finished":1}}"#;
        assert_eq!(
            parse_stats(theirs).unwrap(),
            parse_stats(stats.as_bytes()).unwrap()
        );
        assert_eq!(
            rtimes_json(&sample()),
            r#"{"default":[],"my_app":[10.222196579,20.1909542084,30.2398204803],"other.App-1":[],"raw":[12.5]}"#
        );
        assert_eq!(stats_json(&[]), "{}");
        assert!(parse_stats(b"ERROR").is_err());
    }

    #[test]
    fn gstatsctl_text() {
        let stats = parse_stats(stats_json(&sample()).as_bytes()).unwrap();
        assert_eq!(
            stats_text(&stats),
            "default\n=======\nRequests: started=1, finished=0, processing=1\n\
             Response time: average=0.0, stdev=0.0\n\n\
             my_app\n======\nRequests: started=3, finished=3, processing=0\n\
             Response time: average=20.2176570892, stdev=8.17218255002\n\n\
             other.App-1\n===========\nRequests: started=1, finished=0, processing=1\n\
             Response time: average=0.0, stdev=0.0\n\n\
             raw\n===\nRequests: started=2, finished=1, processing=1\n\
             Response time: average=12.5, stdev=0.0\n\n"
        );
        let rtimes = parse_rtimes(rtimes_json(&sample()).as_bytes()).unwrap();
        assert_eq!(
            rtimes_text(&rtimes, "my_app"),
            "10.222196579\n20.1909542084\n30.2398204803\n"
        );
        assert_eq!(rtimes_text(&rtimes, "nosuch"), "\n");
        assert_eq!(rtimes_text(&rtimes, "default"), "");
    }
}
