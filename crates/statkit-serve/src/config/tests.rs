use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use super::{layers, registry, Config};
use crate::settings::{docs_table, print_toml};

fn parse(toml_text: &str) -> Result<Config, String> {
    let mut layers = layers();
    layers
        .toml(toml_text, Path::new("test.toml"))
        .map_err(|e| e.to_string())?;
    Config::try_from(layers.resolve().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

#[test]
fn every_default_reads_and_every_name_is_unique() {
    let mut names = BTreeSet::new();
    for setting in registry() {
        assert!(
            setting.default_reads(),
            "{}'s default does not read",
            setting.key()
        );
        let spellings =
            std::iter::once(setting.key()).chain(setting.aliases().iter().map(|a| a.key));
        for name in spellings {
            assert!(names.insert(name.to_owned()), "{name} is declared twice");
        }
    }
}

#[test]
fn defaults_listen_on_loopback() {
    let c = parse("").unwrap();
    assert_eq!(c.statsd.listen.to_string(), "127.0.0.1:8125");
    assert_eq!(c.admin.listen.to_string(), "127.0.0.1:8126");
    assert_eq!(
        c.http.listen.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:8127")
    );
    assert_eq!(c.aggregation.interval_ms, 10_000.0);
    assert!(c.sinks.naming.legacy_namespace);
    assert!(
        c.sinks.console,
        "with no sink configured, flushes are printed"
    );
    assert!(
        !parse("graphite = [\"127.0.0.1:2003\"]")
            .unwrap()
            .sinks
            .console
    );
    assert_eq!(c.statsd.receivers, 1);
    assert_eq!(c.statsd.receive_coalesce, Duration::from_millis(50));
}

#[test]
fn receive_coalesce_takes_units_and_its_former_milliseconds() {
    let c = parse("receive_coalesce = \"5ms\"").unwrap();
    assert_eq!(c.statsd.receive_coalesce, Duration::from_millis(5));
    let c = parse("receive_coalesce_ms = 20").unwrap();
    assert_eq!(c.statsd.receive_coalesce, Duration::from_millis(20));
    let c = parse("receive_coalesce_ms = 0").unwrap();
    assert!(c.statsd.receive_coalesce.is_zero());
    for bad in [
        "receive_coalesce_ms = -1",
        "receive_coalesce_ms = 100.5",
        "receive_coalesce = \"1s\"",
    ] {
        let error = parse(bad).unwrap_err();
        assert!(error.contains("receive_coalesce"), "{error}");
    }
}

#[test]
fn durations_take_units() {
    let c = parse("flush_interval = \"500ms\"").unwrap();
    assert_eq!(c.aggregation.interval_ms, 500.0);
    let c = parse("flush_interval = \"1m\"\n[stats]\nscan_interval = 2.5").unwrap();
    assert_eq!(c.aggregation.interval_ms, 60_000.0);
    assert_eq!(c.scan.interval, Duration::from_millis(2500));
}

#[test]
fn http_takes_an_address_or_off_under_either_name() {
    let c = parse("http = \"127.0.0.1:0\"").unwrap();
    assert_eq!(
        c.http.listen.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:0")
    );
    let c = parse("[http]\nlisten = \"127.0.0.1:0\"\nallow = [\"::1\"]").unwrap();
    assert_eq!(
        c.http.listen.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:0")
    );
    assert_eq!(c.http.allow.len(), 1);
    assert_eq!(parse("http = \"off\"").unwrap().http.listen, None);
    // Only the one spelling turns it off; anything else must resolve.
    assert!(parse("http = \"OFF\"")
        .unwrap_err()
        .starts_with("http.listen"));
    assert!(parse("http = \"\"").unwrap_err().starts_with("http.listen"));
}

#[test]
fn delete_idle_stats_sets_every_kind_unless_overridden() {
    let c = parse("delete_idle_stats = true\ndelete_gauges = false").unwrap();
    let d = c.aggregation.deletion;
    assert_eq!(
        (d.counters, d.gauges, d.timers, d.sets),
        (true, false, true, true)
    );
}

#[test]
fn rejects_bad_values_naming_the_setting() {
    for (text, named) in [
        ("flush_interval = 0", "flush_interval"),
        ("percent_thresholds = [0]", "percent_thresholds"),
        ("sample_rates = \"fast\"", "sample_rates"),
        ("statsd = \"nowhere\"", "statsd"),
        ("[[histogram]]\nmetric = \"a\"\nbins = [\"x\"]", "histogram"),
        ("max_datagram = 2000000", "max_datagram"),
        ("store_max_series = 0", "store.max_series"),
        ("state_save_interval = 0", "state.save_interval"),
        ("http_allow = [\"10.0.0.0/33\"]", "http.allow"),
        ("pipe_max_bytes = 0", "pipe.max_bytes"),
        ("[requests]\nbuffer_length = 0", "requests.buffer_length"),
        (
            "[requests]\ngstats_pull = \"127.0.0.1:1\"",
            "requests.gstats_pull",
        ),
    ] {
        let error = parse(text).unwrap_err();
        assert!(error.contains(named), "{text}: {error}");
    }
}

#[test]
fn unknown_keys_are_refused_with_a_suggestion() {
    let error = parse("flush_intervall = 1").unwrap_err();
    assert!(
        error.contains("unknown setting `flush_intervall`; did you mean `flush_interval`?"),
        "{error}"
    );
    let error = parse("[http]\nalow = []").unwrap_err();
    assert!(
        error.contains("`http.alow`; did you mean `http.allow`?"),
        "{error}"
    );
    assert!(parse("[nonsense]\nx = 1")
        .unwrap_err()
        .contains("unknown setting `nonsense`"));
    let error = parse("flush_interval = \"soon\"").unwrap_err();
    assert!(
        error.starts_with("config file test.toml: flush_interval:"),
        "{error}"
    );
}

#[test]
fn layers_replace_the_ones_below() {
    let mut layers = layers();
    layers
        .toml(
            "flush_interval = 5.0\nconsole = true\n[graphite_names]\nglobal_prefix = \"a\"",
            Path::new("f.toml"),
        )
        .unwrap();
    layers
        .env([("STATKIT_FLUSH_INTERVAL".to_owned(), "2".to_owned())])
        .unwrap();
    layers.flag("flush_interval", &["0.5".into()]).unwrap();
    layers
        .flag("graphite_names.legacy_namespace", &["false".into()])
        .unwrap();
    let c = Config::try_from(layers.resolve().unwrap()).unwrap();
    assert_eq!(c.aggregation.interval_ms, 500.0);
    assert!(c.sinks.console);
    assert_eq!(
        (
            c.sinks.naming.global_prefix.as_str(),
            c.sinks.naming.legacy_namespace
        ),
        ("a", false)
    );
}

#[test]
fn legacy_variables_give_defaults_or_add_entries() {
    let env = |pairs: &[(&str, &str)]| {
        let mut layers = layers();
        layers
            .env(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .unwrap();
        layers
    };
    let c = Config::try_from(env(&[("STATKIT_DIR", "/x")]).resolve().unwrap()).unwrap();
    assert_eq!(c.scan.stats_dir.as_deref(), Some(Path::new("/x")));
    let c = Config::try_from(
        env(&[("STATKIT_DIR", "/x"), ("STATKIT_STATS_DIR", "off")])
            .resolve()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(c.scan.stats_dir, None);
    let c = Config::try_from(
        env(&[("GSTATS_COMM_ADDR", "tcp://127.0.0.1:9")])
            .resolve()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(c.requests.gstats_rep.as_deref(), Some("tcp://127.0.0.1:9"));
    let mut layers = env(&[("GSTATS_ALLOWED_IPS", "127.0.0.3:127.0.0.1")]);
    layers
        .flag("status_allow", &["127.0.1.0/24".into()])
        .unwrap();
    let c = Config::try_from(layers.resolve().unwrap()).unwrap();
    let allowed = |ip: &str| c.requests.status_allow.allows(ip.parse().unwrap());
    assert!(allowed("127.0.0.3") && allowed("127.0.0.1") && allowed("127.0.1.9"));
    assert!(!allowed("::1"));
}

#[test]
fn histogram_bins_accept_numbers_and_inf() {
    let c = parse("[[histogram]]\nmetric = \"api\"\nbins = [10, 0.5, \"inf\"]").unwrap();
    assert_eq!(c.aggregation.histograms[0].bins.len(), 3);
}

#[test]
fn prometheus_buckets_must_ascend() {
    let c = parse("prometheus_buckets = [1.0, 2.5]").unwrap();
    assert_eq!(&c.store.bounds[..], &[1.0, 2.5]);
    assert_eq!(&c.aggregation.buckets[..], &[1.0, 2.5]);
    assert_eq!(parse("").unwrap().store.bounds.len(), 11);
    assert!(parse("prometheus_buckets = [2.0, 1.0]")
        .unwrap_err()
        .starts_with("prometheus_buckets"));
    let c = parse("state_file = \"/x/s\"\nstate_save_interval = 5").unwrap();
    assert_eq!(c.state.unwrap().save_interval.as_secs(), 5);
    let c = parse("load_listen = \"127.0.0.1:0\"").unwrap();
    assert!(c.http.load.is_some());
    assert!(parse("").unwrap().http.load.is_none());
}

#[test]
fn pipes_default_to_statvents_folder() {
    let c = parse("").unwrap();
    assert_eq!(c.scan.pipes.dir, Path::new("/tmp/stats-pipe"));
    assert_eq!(
        c.scan.stats_dir.as_deref(),
        Some(Path::new(statkit_format::naming::DEFAULT_DIR))
    );
    assert!(c.http.statvent.is_none());
    let c = parse("pipe_dir = \"/run/p\"\npipe_max_pipes = 3\nstatvent_listen = \"127.0.0.1:0\"")
        .unwrap();
    assert_eq!(
        (c.scan.pipes.dir.to_str(), c.scan.pipes.max_pipes),
        (Some("/run/p"), 3)
    );
    assert!(c.http.statvent.is_some());
}

/// What `--print-config` prints reads back as the same settings.
#[test]
fn printed_configuration_reads_back_the_same() {
    let mut first = layers();
    first
        .toml(
            "flush_interval = \"1500ms\"\ngraphite = [\"127.0.0.1:2003\"]\npercent_thresholds = [90, -10]\n\
             [[histogram]]\nmetric = \"api\"\nbins = [10, \"inf\"]\n[http]\nallow = [\"::1\"]",
            Path::new("a.toml"),
        )
        .unwrap();
    let printed = print_toml(&first.resolve().unwrap());
    let mut second = layers();
    second.toml(&printed, Path::new("printed.toml")).unwrap();
    assert_eq!(print_toml(&second.resolve().unwrap()), printed);
    assert!(
        printed.contains("\nflush_interval = \"1500ms\"\n"),
        "{printed}"
    );
    assert!(printed.contains("\n# unix_socket = <PATH>\n"), "{printed}");
}

/// docs/serve.md's table of settings is the registry's (regenerate it with
/// `STATKIT_BLESS=1 cargo test -p statkit-serve docs_table`).
#[test]
fn docs_table_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/serve.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- settings: begin -->\n", "<!-- settings: end -->");
    let start = text
        .find(begin)
        .expect("docs/serve.md lacks the settings markers")
        + begin.len();
    let stop = text
        .find(end)
        .expect("docs/serve.md lacks the settings end marker");
    let table = docs_table(&registry());
    if text[start..stop] != table {
        if std::env::var_os("STATKIT_BLESS").is_some() {
            let updated = format!("{}{table}{}", &text[..start], &text[stop..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            panic!("docs/serve.md's settings table is stale: run STATKIT_BLESS=1 cargo test -p statkit-serve docs_table");
        }
    }
}
