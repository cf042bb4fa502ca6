//! munin plug-ins for the request view: which graph a link name asks for,
//! and the `config` and fetch text for it, as gstats' plug-ins printed them.
//!
//! A plug-in is one program linked under several names (a munin
//! "wildcard" plug-in): `statkit_requests_<slug>` and
//! `statkit_request_time_<slug>`, or gstats' `gunicorn-requests_<slug>`
//! and `gunicorn-request-time_<slug>`, where `<slug>` is the prefix
//! lowercased with every character outside `[0-9a-z_]` made `_`. Linked
//! with no slug (`statkit_requests`), it graphs every prefix at once as a
//! munin multigraph, when munin-node supports that.
//!
//! [`metrics`] is the other plug-in, `statkit_metrics_<name>`: a graph of
//! any series read from the HTTP server's `/api/v1/metrics`.

pub mod metrics;

use std::fmt::Write;

use crate::gstats::{py2_float, PrefixStats, ProcessingTime, StatsReply};

/// The two graphs gstats drew per prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Graph {
    /// Started and finished requests, as rates (DERIVE).
    Requests,
    /// The average duration, with a band one deviation below it.
    RequestTime,
}

/// What a link name asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plugin {
    /// One graph for the prefix whose slug is given.
    Single { graph: Graph, slug: String },
    /// Both graphs for every prefix (multigraph).
    All,
}

/// A link name the plug-in cannot serve; the message says how to link it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("please link as {stem}<prefix>")]
pub struct LinkError {
    pub stem: &'static str,
}

/// The stems a link name may start with, and their graphs.
const STEMS: [(&str, Graph); 4] = [
    ("statkit_requests_", Graph::Requests),
    ("statkit_request_time_", Graph::RequestTime),
    ("gunicorn-requests_", Graph::Requests),
    ("gunicorn-request-time_", Graph::RequestTime),
];

/// The name a multigraph plug-in is linked as.
pub const ALL_NAME: &str = "statkit_requests";

impl Plugin {
    /// Reads the plug-in's file name (`argv[0]` without directories), or
    /// `None` when it is not one of the request plug-ins' names.
    pub fn from_name(name: &str) -> Option<Result<Plugin, LinkError>> {
        if name == ALL_NAME {
            return Some(Ok(Plugin::All));
        }
        let (stem, graph) = STEMS.iter().find(|(stem, _)| name.starts_with(stem))?;
        let slug = &name[stem.len()..];
        Some(if slug.is_empty() {
            Err(LinkError { stem })
        } else {
            Ok(Plugin::Single {
                graph: *graph,
                slug: slug.to_owned(),
            })
        })
    }
}

/// gstats' slug of a prefix: lowercase, anything but `[0-9a-z_]` as `_`.
pub fn slug(prefix: &str) -> String {
    prefix
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c.is_ascii_digit() || c.is_ascii_lowercase() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The prefix whose slug is `slug`, with its numbers.
pub fn find<'a>(stats: &'a StatsReply, slug_wanted: &str) -> Option<(&'a str, &'a PrefixStats)> {
    stats
        .iter()
        .find(|(prefix, _)| slug(prefix) == slug_wanted)
        .map(|(p, s)| (p.as_str(), s))
}

/// `suggest`: the slug of every prefix, one per line.
pub fn suggest(stats: &StatsReply) -> String {
    stats.keys().map(|p| slug(p) + "\n").collect()
}

/// `config` for one graph of `prefix`.
pub fn config(graph: Graph, prefix: &str) -> String {
    match graph {
        Graph::Requests => format!(
            "graph_title Gunicorn requests for {prefix}\n\
             graph_args --base 1000 -l 0\n\
             graph_vlabel requests / ${{graph_period}}\n\
             graph_category gunicorn\n\
             started.label started\nstarted.min 0\nstarted.type DERIVE\n\
             finished.label finished\nfinished.min 0\nfinished.type DERIVE\n"
        ),
        Graph::RequestTime => format!(
            "graph_title Gunicorn request time for {prefix}\n\
             graph_args --base 1000 -l 0\n\
             graph_vlabel ms\n\
             graph_category gunicorn\n\
             avg_low.label low limit\navg_low.min 0\navg_low.type GAUGE\n\
             avg_low.draw AREA\navg_low.colour 00000000\n\
             avg_std.label standard deviation\navg_std.min 0\navg_std.type GAUGE\n\
             avg_std.draw STACK\n\
             avg.label average\navg.min 0\navg.type GAUGE\navg.draw LINE2\n"
        ),
    }
}

/// The fetch output for one graph.
pub fn fetch(graph: Graph, stats: &PrefixStats) -> String {
    match graph {
        Graph::Requests => format!(
            "started.value {}\nfinished.value {}\n",
            stats.started, stats.finished
        ),
        Graph::RequestTime => {
            let ProcessingTime { avg, std } = stats.processing_time;
            format!(
                "avg_low.value {}\navg_std.value {}\navg.value {}\n",
                py2_float(avg - std),
                py2_float(std),
                py2_float(avg)
            )
        }
    }
}

/// Both graphs of every prefix as multigraph sections; `with_config`
/// gives the `config` text, otherwise the values.
pub fn multigraph(stats: &StatsReply, with_config: bool) -> String {
    let mut out = String::new();
    for (prefix, s) in stats {
        let slug = slug(prefix);
        for (graph, name) in [
            (Graph::Requests, "statkit_requests_"),
            (Graph::RequestTime, "statkit_request_time_"),
        ] {
            let _ = writeln!(out, "multigraph {name}{slug}");
            out.push_str(&if with_config {
                config(graph, prefix)
            } else {
                fetch(graph, s)
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gstats::parse_stats;

    const SAMPLE: &[u8] = br#"{"my_app":{"started":3,"processing_time":{"std":8.172182550023296,"avg":20.21765708923333},"finished":3},"other.App-1":{"started":1,"processing_time":{"std":0.0,"avg":0.0},"finished":0}}"#;

    #[test]
    fn link_names() {
        assert_eq!(
            Plugin::from_name("gunicorn-requests_my_app"),
            Some(Ok(Plugin::Single {
                graph: Graph::Requests,
                slug: "my_app".into()
            }))
        );
        assert_eq!(
            Plugin::from_name("statkit_request_time_other_app_1"),
            Some(Ok(Plugin::Single {
                graph: Graph::RequestTime,
                slug: "other_app_1".into()
            }))
        );
        assert_eq!(Plugin::from_name("statkit_requests"), Some(Ok(Plugin::All)));
        let missing = Plugin::from_name("gunicorn-requests_")
            .unwrap()
            .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "please link as gunicorn-requests_<prefix>"
        );
        assert_eq!(Plugin::from_name("statkit"), None);
    }

    #[test]
    fn gstats_munin_sample() {
        let stats = parse_stats(SAMPLE).unwrap();
        assert_eq!(slug("other.App-1"), "other_app_1");
        let (prefix, s) = find(&stats, "other_app_1").unwrap();
        assert_eq!(prefix, "other.App-1");
        assert_eq!(
            fetch(Graph::Requests, s),
            "started.value 1\nfinished.value 0\n"
        );
        let (_, s) = find(&stats, "my_app").unwrap();
        assert_eq!(
            fetch(Graph::RequestTime, s),
            "avg_low.value 12.0454745392\navg_std.value 8.17218255002\navg.value 20.2176570892\n"
        );
        assert!(find(&stats, "my-app").is_none());
        assert_eq!(suggest(&stats), "my_app\nother_app_1\n");
        assert!(config(Graph::Requests, "my_app").starts_with(
            "graph_title Gunicorn requests for my_app\ngraph_args --base 1000 -l 0\n\
             graph_vlabel requests / ${graph_period}\n"
        ));
        assert!(config(Graph::RequestTime, "my_app").ends_with("avg.type GAUGE\navg.draw LINE2\n"));
        let all = multigraph(&stats, false);
        assert!(all.starts_with("multigraph statkit_requests_my_app\nstarted.value 3\n"));
        assert!(all.contains("multigraph statkit_request_time_other_app_1\navg_low.value 0.0\n"));
    }
}
