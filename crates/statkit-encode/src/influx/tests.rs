use proptest::prelude::*;

use super::*;
use crate::export::tests::{flush, BOUNDS};
use crate::labels::HostLabels;

fn lines_of(lines: &str, host: &[&str]) -> Vec<String> {
    let snapshot = flush(2, lines);
    let host = HostLabels::parse(host).unwrap();
    let export = Export::new(&snapshot, &BOUNDS, &host);
    String::from_utf8(encode(&export))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("statsd_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_kind_as_lines_with_the_flush_time_in_nanoseconds() {
    let t = " 2000000000";
    assert_eq!(
        lines_of(
            "hits;env=prod:3|c\nmem:7.5|g\nusers:a|s\nlat:5|ms\nlat:50|ms\nlat:500|ms",
            &["host=web1"]
        ),
        [
            format!("hits,env=prod,host=web1 total=3{t}"),
            format!("lat,host=web1 count=3,sum=555{t}"),
            format!("lat,host=web1,le=10.0 bucket=1{t}"),
            format!("lat,host=web1,le=100.0 bucket=2{t}"),
            format!("lat,host=web1,le=+Inf bucket=3{t}"),
            format!("mem,host=web1 value=7.5{t}"),
            format!("users,host=web1 value=1{t}"),
        ]
    );
}

#[test]
fn tag_values_are_escaped() {
    let mut out = String::new();
    tag(&mut out, "a", "x y,z=1");
    tag(&mut out, "b", "c:\\d\ne");
    tag(&mut out, "empty", "");
    assert_eq!(out, r",a=x\ y\,z\=1,b=c:_d_e");
}

#[test]
fn fields_that_are_not_finite_are_left_out() {
    let mut out = String::new();
    line(&mut out, "m", "", &[("a", f64::NAN), ("b", 1.0)], "5");
    line(&mut out, "m", "", &[("a", f64::INFINITY)], "5");
    assert_eq!(out, "m b=1 5\n");
}

/// Splits a line at its unescaped spaces: measurement and tags, fields,
/// time.
fn parts(line: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next().unwrap_or_default();
                let last = parts.last_mut().unwrap();
                last.push(c);
                last.push(next);
            }
            ' ' => parts.push(String::new()),
            c => parts.last_mut().unwrap().push(c),
        }
    }
    parts
}

proptest! {
    /// Whatever the keys and tags, every line has exactly three parts
    /// (no stray space or line break), and its tags read back as the
    /// series' labels.
    #[test]
    fn every_line_reads_back(key in "[a-z]{1,4}(;[a-z]{1,3}=[a-zA-Z0-9 ,=\\\\_.-]{0,6}){0,3}", value in 0u32..100) {
        let lines = lines_of(&format!("{key}:{value}|c"), &["host=h"]);
        prop_assert_eq!(lines.len(), 1);
        let parts = parts(&lines[0]);
        prop_assert_eq!(parts.len(), 3, "{:?}", &lines[0]);
        prop_assert!(parts[1].starts_with("total="));
        prop_assert!(parts[2].parse::<i64>().is_ok());
    }
}
