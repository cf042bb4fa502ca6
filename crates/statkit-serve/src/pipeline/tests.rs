use std::sync::{Arc, Mutex};

use statkit_agg::{Kind, Options, Table};

use super::{Observer, Pipeline};

/// Counts the lines of every table it is shown.
#[derive(Default)]
struct Spy {
    lines: Mutex<u64>,
}

impl Observer for Spy {
    fn observe(&self, table: &Table, _: u64) {
        *self.lines.lock().unwrap() += table.counts().lines;
    }
}

fn pipeline(intakes: usize) -> (Arc<Pipeline>, Vec<super::Intake>, Arc<Spy>) {
    let spy = Arc::new(Spy::default());
    let (pipeline, intakes) = Pipeline::new(Options::default(), intakes, Some(spy.clone()), 1000);
    (pipeline, intakes, spy)
}

fn counter(pipeline: &Pipeline, name: &str) -> Option<f64> {
    pipeline.read(|a| {
        a.counters()
            .find(|(k, _)| *k == name.as_bytes())
            .map(|(_, v)| v)
    })
}

#[test]
fn the_observer_sees_each_line_once_whoever_drains() {
    let (pipeline, intakes, spy) = pipeline(2);
    intakes[0].fill(|t| t.ingest(b"a:1|c\nb:2|c"));
    intakes[1].fill(|t| t.ingest(b"a:3|c"));
    pipeline.drain();
    assert_eq!(counter(&pipeline, "a"), Some(4.0));
    intakes[1].fill(|t| t.ingest(b"a:1|c"));
    let snapshot = pipeline.flush(2000, None, false).snapshot;
    assert_eq!(
        snapshot
            .counters()
            .find(|(k, _)| *k == b"a")
            .map(|(_, c)| c.count),
        Some(5.0)
    );
    assert_eq!(*spy.lines.lock().unwrap(), 4);
}

#[test]
fn totals_read_the_tables_without_draining_them() {
    let (pipeline, intakes, spy) = pipeline(1);
    intakes[0].fill(|t| t.ingest(b"a:1|c\nbad"));
    let (totals, _) = pipeline.totals();
    assert_eq!((totals.lines, totals.bad_lines), (2, 1));
    assert_eq!(*spy.lines.lock().unwrap(), 0, "nothing was drained");
    assert_eq!(intakes[0].fill(|t| t.counts().lines), 2);
}

#[test]
fn deleting_takes_the_current_interval_too() {
    let (pipeline, intakes, _) = pipeline(1);
    intakes[0].fill(|t| t.ingest(b"api.a:1|c\napi.b:1|c\nweb:1|c"));
    let deleted = pipeline.delete(Kind::Counters, &["api.*", "nope"]);
    assert_eq!(deleted[0].names, [b"api.a".to_vec(), b"api.b".to_vec()]);
    assert!(deleted[1].names.is_empty());
    assert_eq!(counter(&pipeline, "api.a"), None);
    assert_eq!(counter(&pipeline, "web"), Some(1.0));
}

#[test]
fn a_table_with_many_new_names_is_drained_by_its_own_intake() {
    let (pipeline, intakes, spy) = pipeline(1);
    let lines: String = (0..statkit_agg::EARLY_DRAIN_NAMES + 1)
        .map(|i| format!("n{i}:1|c\n"))
        .collect();
    intakes[0].fill(|t| t.ingest(lines.as_bytes()));
    assert_eq!(intakes[0].fill(|t| t.counts().lines), 0, "drained early");
    assert_eq!(
        *spy.lines.lock().unwrap() as usize,
        statkit_agg::EARLY_DRAIN_NAMES + 1
    );
    assert_eq!(counter(&pipeline, "n0"), Some(1.0));
}
