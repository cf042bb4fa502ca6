//! Writes `docs/conformance.md` from the suite and the reports of its runs.
//!
//! `scripts/conformance-table.sh` runs the suite (in process with statkit's
//! default and etsy-strict settings, over the network against `statkit
//! serve` and etsy statsd 0.9.0 through the integration tests), keeps each
//! run's report in a folder, and calls this with the suite and that folder:
//!
//! ```sh
//! cargo run -p statkit-conformance --example table -- conformance REPORTS > docs/conformance.md
//! ```
//!
//! A report is what `statkit conformance` prints; a file may hold several
//! runs (one per settings group), and a case counts as played when any run
//! played it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use statkit_conformance::{load_suite, Case};

/// The columns of the table: report file, heading, and the dialect the run
/// was judged against (`None`: statkit's answers).
const COLUMNS: &[(&str, &str, Option<&str>)] = &[
    (
        "statkit-default",
        "statkit, default settings (in process)",
        None,
    ),
    (
        "statkit-etsy-strict",
        "statkit, etsy-strict settings (in process)",
        None,
    ),
    ("statkit-serve", "`statkit serve` over Graphite", None),
    ("etsy", "etsy statsd 0.9.0 over Graphite", Some("etsy")),
];

/// One case's line of a report.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Pass,
    Documented(String),
    Fail(String),
    Skipped,
}

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [suite, reports] = args.as_slice() else {
        eprintln!("usage: table SUITE_DIR REPORTS_DIR");
        return ExitCode::from(2);
    };
    let cases = match load_suite(suite) {
        Ok(cases) => cases,
        Err(e) => {
            eprintln!("table: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut runs = Vec::new();
    for (file, _, _) in COLUMNS {
        let path = reports.join(format!("{file}.txt"));
        match std::fs::read_to_string(&path) {
            Ok(text) => runs.push(parse(&text)),
            Err(e) => {
                eprintln!("table: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    print!("{}", render(&cases, &runs));
    ExitCode::SUCCESS
}

/// A report's verdicts by case id; a played case wins over a skipped one.
fn parse(text: &str) -> BTreeMap<String, Seen> {
    let mut seen = BTreeMap::new();
    for line in text.lines() {
        let (id, verdict) = if let Some(id) = line.strip_prefix("pass ") {
            (id, Seen::Pass)
        } else if let Some(rest) = line.strip_prefix("differs as documented (") {
            let Some((dialect, id)) = rest.split_once(") ") else {
                continue;
            };
            (id, Seen::Documented(dialect.to_owned()))
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            let (id, why) = rest.split_once(": ").unwrap_or((rest, ""));
            (id, Seen::Fail(why.to_owned()))
        } else if let Some(rest) = line.strip_prefix("skip ") {
            (
                rest.split_once(": ").map_or(rest, |(id, _)| id),
                Seen::Skipped,
            )
        } else {
            continue;
        };
        let slot = seen.entry(id.to_owned()).or_insert(Seen::Skipped);
        if *slot == Seen::Skipped {
            *slot = verdict;
        }
    }
    seen
}

/// A table cell: whose answer the server gave.
fn cell(case: &Case, seen: Option<&Seen>, dialect: Option<&str>) -> String {
    let same = !case.differs_from_etsy();
    match (seen, dialect) {
        (Some(Seen::Pass), _) if same => "same".to_owned(),
        (Some(Seen::Pass), None) => "statkit's".to_owned(),
        (Some(Seen::Pass), Some(d)) => format!("{d}'s"),
        (Some(Seen::Documented(d)), _) => format!("{d}'s"),
        (Some(Seen::Fail(_)), _) => "**FAIL**".to_owned(),
        (Some(Seen::Skipped) | None, _) => "not run".to_owned(),
    }
}

/// The first datagram, escaped and shortened, as inline code.
fn datagram(case: &Case) -> String {
    let Some(first) = case.datagrams.first() else {
        return String::new();
    };
    let mut text: String = first
        .escape_ascii()
        .to_string()
        .replace('|', "\\|")
        .replace('`', "'");
    if text.chars().count() > 48 {
        text = text.chars().take(45).collect::<String>() + "...";
    }
    let more = match case.datagrams.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    if text.is_empty() {
        format!("(empty){more}")
    } else {
        format!("`{text}`{more}")
    }
}

fn summary(cases: &[Case], run: &BTreeMap<String, Seen>, dialect: Option<&str>) -> String {
    let (mut pass, mut documented, mut fail, mut skipped) = (0, 0, 0, 0);
    for case in cases {
        match run.get(&case.id) {
            Some(Seen::Pass) => pass += 1,
            Some(Seen::Documented(_)) => documented += 1,
            Some(Seen::Fail(_)) => fail += 1,
            Some(Seen::Skipped) | None => skipped += 1,
        }
    }
    match dialect {
        Some(d) => {
            let differing = cases
                .iter()
                .filter(|c| c.differs_from_etsy() && run.get(&c.id) == Some(&Seen::Pass))
                .count();
            format!(
                "{pass} gave {d}'s documented answer ({differing} of them not statkit's), \
                 {fail} failed, {skipped} not run"
            )
        }
        None => format!(
            "{pass} gave statkit's answer, {documented} another dialect's documented one, {fail} failed, \
             {skipped} not run"
        ),
    }
}

fn render(cases: &[Case], runs: &[BTreeMap<String, Seen>]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Conformance: what each server does with each line\n\n\
         Generated by `scripts/conformance-table.sh` from the suite in\n\
         [`conformance/`](../conformance/README.md) and the reports of its runs; do not edit by hand.\n\n\
         Each row is one case: a question about the statsd dialects, the datagrams it sends (the\n\
         first one shown) and, per server, whose documented answer the server gave after one flush:\n\
         `same` where statkit and etsy answer alike, `statkit's` or `etsy's` where they differ,\n\
         `not run` where a network run cannot play the case (it compares a rate, which depends on\n\
         the flush interval, or it limits keys or series, which the runner's sentinel counters\n\
         would be subject to). Each case file lists the other dialects' answers (DogStatsD,\n\
         statsd_exporter, brubeck, statsite, Netdata) and which one statkit follows.\n\n\
         - statkit, default settings: `statkit conformance --in-process`.\n\
         - statkit, etsy-strict settings: `--profile etsy-strict`: etsy's sample rates and none of\n\
         \x20 statkit's limits; what is left are the parser's deliberate choices (docs/serve.md).\n\
         - `statkit serve` and etsy statsd 0.9.0: the integration tests in\n\
         \x20 `crates/statkit-cli/tests/cli/conformance.rs` (node, loopback, one server per settings group;\n\
         \x20 etsy judged with `--dialect etsy` against etsy's documented answers).\n"
    );
    let _ = writeln!(out, "| run | result |\n| --- | --- |");
    for ((_, heading, dialect), run) in COLUMNS.iter().zip(runs) {
        let _ = writeln!(out, "| {heading} | {} |", summary(cases, run, *dialect));
    }
    let mut topics: Vec<&str> = cases.iter().map(|c| c.topic.as_str()).collect();
    topics.dedup();
    let mut order: Vec<&str> = Vec::new();
    for topic in topics {
        if !order.contains(&topic) {
            order.push(topic);
        }
    }
    for topic in order {
        let _ = writeln!(out, "\n## {topic}\n");
        let headings: Vec<&str> = COLUMNS.iter().map(|(_, h, _)| *h).collect();
        let _ = writeln!(out, "| case | datagram | {} |", headings.join(" | "));
        let _ = writeln!(out, "| --- | --- |{}", " --- |".repeat(COLUMNS.len()));
        for case in cases.iter().filter(|c| c.topic == topic) {
            let cells: Vec<String> = COLUMNS
                .iter()
                .zip(runs)
                .map(|((_, _, dialect), run)| cell(case, run.get(&case.id), *dialect))
                .collect();
            let _ = writeln!(
                out,
                "| [{}]({}) | {} | {} |",
                case.question.replace('|', "\\|"),
                link(case),
                datagram(case),
                cells.join(" | ")
            );
        }
    }
    let _ = writeln!(
        out,
        "\n## Where statkit differs from etsy statsd 0.9.0\n\n\
         Every case whose etsy answer is not statkit's, with etsy's answer and why statkit gives\n\
         another (the dialect it follows instead, and the option that changes it, if any).\n"
    );
    let _ = writeln!(
        out,
        "| case | etsy 0.9.0 | statkit follows | option | why |\n| --- | --- | --- | --- | --- |"
    );
    for case in cases.iter().filter(|c| c.differs_from_etsy()) {
        let etsy = case.dialects.get("etsy").map_or("", |d| d.answer.as_str());
        let _ = writeln!(
            out,
            "| [{}]({}) | {} | {} | {} | {} |",
            case.id,
            link(case),
            etsy.replace('|', "\\|"),
            case.follows.as_deref().unwrap_or(""),
            case.option.as_deref().unwrap_or("").replace('|', "\\|"),
            case.notes.as_deref().unwrap_or("").replace('|', "\\|"),
        );
    }
    out
}

/// The case file's path relative to `docs/`.
fn link(case: &Case) -> String {
    format!("../conformance/{}.toml", case.id)
}
