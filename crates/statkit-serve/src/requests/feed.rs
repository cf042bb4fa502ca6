//! Reading a receiver's table into the request view.

use statkit_agg::{Table, TimerValues};
use statkit_requests::names::Durations;
use statkit_requests::{Reading, RequestView};

/// Shows `view` every name in `table` it reads. Runs while the table is
/// locked for draining; costs a name comparison per series and allocates
/// only for a prefix seen for the first time.
pub(crate) fn observe(view: &mut RequestView, table: &Table, now: u64) {
    for (name, sum) in table.counters() {
        view.observe(name, Reading::Counter(sum), now);
    }
    for (name, values) in table.timers() {
        if !values.is_empty() {
            view.observe(name, Reading::Timer(durations(values)), now);
        }
    }
    for (name, value) in table.gauges_set() {
        view.observe(name, Reading::Gauge(value), now);
    }
}

fn durations(values: &TimerValues) -> Durations<'_> {
    match values.sketch() {
        Some(sketch) => Durations::Summary {
            count: sketch.weight(),
            sum: sketch.sum(),
            sum_squares: sketch.sum_squares(),
        },
        None => Durations::Exact(values.values()),
    }
}
