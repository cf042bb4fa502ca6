//! Families with a description of their own (`Exposition::described`).

use super::tests::{store, Feed};
use super::*;

/// `lines` rendered with `help` and `unit` for the statsd names listed.
fn described(lines: &str, format: Format, known: &[(&str, &str, &str)]) -> String {
    let mut feed = Feed::new(&[10.0]);
    let mut store = store(&[10.0]);
    store.ingest(&feed.flush(1000, lines));
    let lookup = |name: &[u8]| {
        known
            .iter()
            .find(|(n, _, _)| n.as_bytes() == name)
            .map(|&(_, unit, help)| Described { help, unit })
    };
    let mut out = String::new();
    let exposition = Exposition {
        described: Some(&lookup),
        ..Exposition::default()
    };
    render(&store, format, exposition, &mut out);
    out
}

#[test]
fn a_described_family_shows_its_text_in_both_formats() {
    let known = [
        ("req", "", "requests served"),
        ("lat_seconds", "seconds", "time to answer"),
    ];
    let lines = "req:3|c|#code:200\nreq:1|c|#code:500\nlat_seconds:5|ms\nload:1|g";
    let text = described(lines, Format::Text, &known);
    assert!(
        text.contains("# HELP req_total requests served\n# TYPE req_total counter\n"),
        "{text}"
    );
    assert!(text.contains("# HELP lat_seconds time to answer\n# TYPE lat_seconds histogram\n"));
    assert!(
        text.contains("# HELP load statsd gauge: load\n"),
        "undescribed keep theirs"
    );
    assert!(
        !text.contains("# UNIT"),
        "text format 0.0.4 has no units: {text}"
    );
    let open = described(lines, Format::OpenMetrics, &known);
    assert!(
        open.contains("# HELP req requests served\n# TYPE req counter\nreq_total"),
        "{open}"
    );
    assert!(open.contains(
        "# HELP lat_seconds time to answer\n# TYPE lat_seconds histogram\n# UNIT lat_seconds seconds\n"
    ));
}

#[test]
fn a_unit_the_name_does_not_end_with_is_left_out() {
    let known = [
        ("lat", "seconds", "no suffix"),
        ("xseconds", "seconds", "no underscore before it"),
        ("bytes", "bytes", "the whole name"),
    ];
    let open = described(
        "lat:1|g\nxseconds:1|g\nbytes:1|g",
        Format::OpenMetrics,
        &known,
    );
    assert!(open.contains("# HELP lat no suffix\n"), "{open}");
    assert!(!open.contains("# UNIT"), "{open}");
}

#[test]
fn help_text_is_escaped_as_each_format_asks() {
    let known = [("q", "", "a \"quoted\" \\ path\nand a second line")];
    let text = described("q:1|g", Format::Text, &known);
    assert!(
        text.contains("# HELP q a \"quoted\" \\\\ path\\nand a second line\n"),
        "{text}"
    );
    let open = described("q:1|g", Format::OpenMetrics, &known);
    assert!(
        open.contains("# HELP q a \\\"quoted\\\" \\\\ path\\nand a second line\n"),
        "{open}"
    );
}

#[test]
fn an_empty_help_keeps_the_default_text() {
    let text = described("q:1|g", Format::Text, &[("q", "", "")]);
    assert!(text.contains("# HELP q statsd gauge: q\n"), "{text}");
}
