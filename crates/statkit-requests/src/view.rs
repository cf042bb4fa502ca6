//! The request view's state: one entry per prefix, every part bounded.

use std::collections::{BTreeMap, VecDeque};

use crate::names::{self, Durations, Reading, Signal};
use crate::stats::{Moments, Rates, Window};

/// How much the view keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Seconds a finished request's duration counts in the mean and
    /// deviation (gstats' `--buffer-length`).
    pub buffer_length: u64,
    /// Prefixes tracked at most; requests of further prefixes are dropped
    /// and counted.
    pub max_prefixes: usize,
    /// Recent durations kept per prefix (within the buffer length); older
    /// ones leave first and are counted.
    pub recent_limit: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            buffer_length: 600,
            max_prefixes: 1000,
            recent_limit: 1000,
        }
    }
}

/// What the view could not keep, since start (a reset keeps these).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ViewCounts {
    /// Readings for prefixes beyond [`Settings::max_prefixes`].
    pub dropped_prefix_readings: u64,
    /// Durations that left the recent list because it was full.
    pub dropped_recent: u64,
    /// Messages in gstats' protocol that were not `[prefix, number]`.
    pub refused_messages: u64,
}

#[derive(Clone, Debug)]
struct Prefix {
    /// Unix second of the first reading, for young rates.
    since: u64,
    started: u64,
    finished: u64,
    window: Window,
    rates: Rates,
    /// `(second, ms)` in arrival order.
    recent: VecDeque<(u64, f64)>,
    statuses: BTreeMap<u16, u64>,
    workers: Option<f64>,
}

/// One prefix as reported.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PrefixReport {
    pub prefix: String,
    pub started: u64,
    pub finished: u64,
    /// Started but not finished (never negative).
    pub processing: u64,
    /// Mean of the durations (ms) finished within the buffer length.
    pub avg: f64,
    /// Their population standard deviation.
    pub std: f64,
    /// How many durations the mean covers.
    pub window_count: u64,
    /// Requests finished per second over 1, 5 and 15 minutes.
    pub per_second: [f64; 3],
    /// Finished requests per HTTP status, when the sender reports them.
    pub statuses: BTreeMap<u16, u64>,
    /// gunicorn's worker count, when it sends one.
    pub workers: Option<f64>,
    /// The most recent durations (ms), oldest first.
    pub recent: Vec<f64>,
}

/// The view itself. Feed it with [`RequestView::observe`], read it with
/// [`RequestView::report`]; both take the time in Unix seconds.
#[derive(Clone, Debug)]
pub struct RequestView {
    settings: Settings,
    prefixes: BTreeMap<String, Prefix>,
    counts: ViewCounts,
}

/// Counter sums become whole requests; anything else counts as none.
fn whole(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value.round() as u64
    } else {
        0
    }
}

impl RequestView {
    pub fn new(settings: Settings) -> Self {
        RequestView {
            settings,
            prefixes: BTreeMap::new(),
            counts: ViewCounts::default(),
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    pub fn counts(&self) -> ViewCounts {
        self.counts
    }

    /// Takes in one aggregated name; returns whether the view reads it.
    /// Allocates only for a prefix seen for the first time.
    pub fn observe(&mut self, name: &[u8], reading: Reading<'_>, now: u64) -> bool {
        let Some((prefix, signal)) = names::classify(name) else {
            return false;
        };
        self.apply(prefix, signal, reading, now)
    }

    /// Takes in what a sender said about `prefix` (directly, as gstats'
    /// protocol does); returns false when the reading's type does not
    /// carry the signal.
    pub fn apply(&mut self, prefix: &str, signal: Signal, reading: Reading<'_>, now: u64) -> bool {
        if !signal.accepts(&reading) {
            return false;
        }
        let recent_limit = self.settings.recent_limit;
        let Some(entry) = self.entry(prefix, now) else {
            self.counts.dropped_prefix_readings += 1;
            return true;
        };
        match (signal, reading) {
            (Signal::Started, Reading::Counter(v)) => entry.started += whole(v),
            (Signal::Status(code), Reading::Counter(v)) => {
                *entry.statuses.entry(code).or_default() += whole(v);
            }
            (Signal::Workers, Reading::Gauge(v)) => entry.workers = Some(v),
            (Signal::Finished, Reading::Timer(durations)) => {
                let dropped = entry.finish(durations, now, recent_limit);
                self.counts.dropped_recent += dropped;
            }
            _ => {}
        }
        true
    }

    fn entry(&mut self, prefix: &str, now: u64) -> Option<&mut Prefix> {
        if !self.prefixes.contains_key(prefix) {
            if self.prefixes.len() >= self.settings.max_prefixes {
                return None;
            }
            let fresh = Prefix {
                since: now,
                started: 0,
                finished: 0,
                window: Window::new(self.settings.buffer_length),
                rates: Rates::default(),
                recent: VecDeque::new(),
                statuses: BTreeMap::new(),
                workers: None,
            };
            self.prefixes.insert(prefix.to_owned(), fresh);
        }
        self.prefixes.get_mut(prefix)
    }

    /// Counts a message that said nothing the view can read.
    pub fn refuse(&mut self) {
        self.counts.refused_messages += 1;
    }

    /// Forgets every prefix (gstats' `RESET`); the drop counts stay.
    pub fn reset(&mut self) {
        self.prefixes.clear();
    }

    /// Every prefix, sorted by name, as of `now`: durations older than the
    /// buffer length have left, whether or not anything arrived since.
    pub fn report(&mut self, now: u64) -> Vec<PrefixReport> {
        let length = self.settings.buffer_length;
        self.prefixes
            .iter_mut()
            .map(|(name, p)| {
                p.expire(now, length);
                let total = p.window.total();
                let (avg, std) = total.mean_std();
                PrefixReport {
                    prefix: name.clone(),
                    started: p.started,
                    finished: p.finished,
                    processing: p.started.saturating_sub(p.finished),
                    avg,
                    std,
                    window_count: whole(total.count),
                    per_second: p.rates.per_second(now, p.since),
                    statuses: p.statuses.clone(),
                    workers: p.workers,
                    recent: p.recent.iter().map(|(_, ms)| *ms).collect(),
                }
            })
            .collect()
    }
}

impl Prefix {
    /// Records finished requests; returns how many recent durations had to
    /// leave the full list.
    fn finish(&mut self, durations: Durations<'_>, now: u64, recent_limit: usize) -> u64 {
        let (moments, values) = match durations {
            Durations::Exact(values) => (Moments::of_values(values), values),
            Durations::Summary {
                count,
                sum,
                sum_squares,
            } => (Moments::of_sums(count, sum, sum_squares), &[][..]),
        };
        self.finished += whole(moments.count);
        self.window.add(now, &moments);
        self.rates.add(now, moments.count);
        let mut dropped = 0;
        for &ms in values {
            if self.recent.len() >= recent_limit {
                self.recent.pop_front();
                dropped += 1;
            }
            if recent_limit > 0 {
                self.recent.push_back((now, ms));
            }
        }
        dropped
    }

    fn expire(&mut self, now: u64, length: u64) {
        self.window.expire(now);
        self.rates.expire(now);
        let oldest = now.saturating_sub(length);
        while self.recent.front().is_some_and(|(t, _)| *t < oldest) {
            self.recent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(view: &mut RequestView, prefix: &str, n: f64, now: u64) {
        let name = format!("statkit.requests.{prefix}.started");
        assert!(view.observe(name.as_bytes(), Reading::Counter(n), now));
    }

    fn finished(view: &mut RequestView, prefix: &str, values: &[f64], now: u64) {
        let name = format!("statkit.requests.{prefix}.duration");
        let reading = Reading::Timer(Durations::Exact(values));
        assert!(view.observe(name.as_bytes(), reading, now));
    }

    #[test]
    fn gstats_collector_sample() {
        let mut view = RequestView::new(Settings::default());
        started(&mut view, "my_app", 3.0, 100);
        finished(
            &mut view,
            "my_app",
            &[10.222196579, 20.1909542084, 30.2398204803],
            100,
        );
        started(&mut view, "other.App-1", 1.0, 100);
        let report = view.report(100);
        assert_eq!(report.len(), 2);
        let app = &report[0];
        assert_eq!((app.started, app.finished, app.processing), (3, 3, 0));
        assert!((app.avg - 20.21765708923333).abs() < 1e-9);
        assert!((app.std - 8.172182550023296).abs() < 1e-9);
        assert_eq!(app.recent, [10.222196579, 20.1909542084, 30.2398204803]);
        let other = &report[1];
        assert_eq!(
            (other.prefix.as_str(), other.processing),
            ("other.App-1", 1)
        );
        assert_eq!((other.avg, other.std), (0.0, 0.0));
    }

    #[test]
    fn durations_leave_by_time_even_when_idle() {
        let mut view = RequestView::new(Settings {
            buffer_length: 2,
            ..Settings::default()
        });
        finished(&mut view, "app", &[10.0, 30.0], 0);
        let r = &view.report(2)[0];
        assert_eq!((r.avg, r.std, r.finished), (20.0, 10.0, 2));
        // gstats kept these until the next request; the view does not.
        let r = &view.report(4)[0];
        assert_eq!((r.avg, r.std, r.finished), (0.0, 0.0, 2));
        assert!(r.recent.is_empty());
        finished(&mut view, "app", &[100.0], 4);
        let r = &view.report(4)[0];
        assert_eq!(
            (r.avg, r.finished, r.recent.clone()),
            (100.0, 3, vec![100.0])
        );
    }

    #[test]
    fn bounded_prefixes_and_recent_values() {
        let mut view = RequestView::new(Settings {
            buffer_length: 600,
            max_prefixes: 2,
            recent_limit: 3,
        });
        started(&mut view, "a", 1.0, 0);
        started(&mut view, "b", 1.0, 0);
        started(&mut view, "c", 1.0, 0);
        finished(&mut view, "a", &[1.0, 2.0, 3.0, 4.0, 5.0], 0);
        let report = view.report(0);
        assert_eq!(report.len(), 2);
        assert_eq!(report[0].recent, [3.0, 4.0, 5.0]);
        assert_eq!(report[0].window_count, 5);
        assert_eq!(
            view.counts(),
            ViewCounts {
                dropped_prefix_readings: 1,
                dropped_recent: 2,
                refused_messages: 0,
            }
        );
        view.reset();
        assert!(view.report(0).is_empty());
        assert_eq!(view.counts().dropped_recent, 2);
    }

    #[test]
    fn gunicorn_names_feed_the_view() {
        let mut view = RequestView::new(Settings::default());
        assert!(view.observe(b"shop.gunicorn.requests", Reading::Counter(2.0), 5));
        let summary = Durations::Summary {
            count: 2.0,
            sum: 40.0,
            sum_squares: 1000.0,
        };
        assert!(view.observe(
            b"shop.gunicorn.request.duration",
            Reading::Timer(summary),
            5
        ));
        assert!(view.observe(
            b"shop.gunicorn.request.status.200",
            Reading::Counter(2.0),
            5
        ));
        assert!(view.observe(b"shop.gunicorn.workers", Reading::Gauge(4.0), 5));
        assert!(!view.observe(b"shop.gunicorn.workers", Reading::Counter(4.0), 5));
        assert!(!view.observe(b"api.hits", Reading::Counter(1.0), 5));
        let r = &view.report(5)[0];
        assert_eq!((r.started, r.finished, r.processing), (2, 2, 0));
        assert_eq!((r.avg, r.std), (20.0, 10.0));
        assert_eq!(r.statuses.get(&200), Some(&2));
        assert_eq!(r.workers, Some(4.0));
        assert!(r.recent.is_empty());
        assert_eq!(r.per_second, [2.0, 2.0, 2.0]);
    }
}
