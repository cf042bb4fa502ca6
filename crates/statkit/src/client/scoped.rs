//! Tags, sample rates and timers layered over a [`Client`]'s metric calls.

use std::fmt;
use std::time::{Duration, Instant};

use super::format::{Millis, Tags, Value};
use super::Client;

/// A view of a [`Client`] that adds tags and a sample rate to each metric.
///
/// Made by [`Client::tagged`] and [`Client::sampled`]; both can be chained
/// (`client.tagged(&tags).sampled(0.1)`). It borrows the tags, so building
/// one per call costs nothing.
#[derive(Clone, Copy)]
pub struct Scoped<'a> {
    client: &'a Client,
    tags: &'a [(&'a str, &'a str)],
    rate: f64,
}

impl<'a> Scoped<'a> {
    /// No tags, every call sent.
    pub(super) fn new(client: &'a Client) -> Self {
        Self {
            client,
            tags: &[],
            rate: 1.0,
        }
    }

    /// Replaces the tags: DogStatsD `key:value` pairs, or bare `key` when the
    /// value is empty. They follow the client's default tags.
    pub fn tagged(self, tags: &'a [(&'a str, &'a str)]) -> Self {
        Self { tags, ..self }
    }

    /// Sends each metric with probability `rate` and marks it `|@rate`, so
    /// the server scales counts back up. A rate of 1 or more sends
    /// everything with no mark; a rate that is not above 0 sends nothing.
    pub fn sampled(self, rate: f64) -> Self {
        Self { rate, ..self }
    }

    /// See [`Client::incr`].
    pub fn incr(self, name: &str) {
        self.count(name, 1);
    }

    /// See [`Client::decr`].
    pub fn decr(self, name: &str) {
        self.count(name, -1);
    }

    /// See [`Client::count`].
    pub fn count(self, name: &str, n: i64) {
        self.emit(name, Value::Counter(n));
    }

    /// See [`Client::gauge`].
    pub fn gauge(self, name: &str, value: f64) {
        self.emit(name, Value::Gauge(value));
    }

    /// See [`Client::gauge_delta`].
    pub fn gauge_delta(self, name: &str, delta: f64) {
        self.emit(name, Value::GaugeDelta(delta));
    }

    /// See [`Client::timing`].
    pub fn timing(self, name: &str, value: impl Into<Millis>) {
        self.emit(name, Value::Timer(value.into()));
    }

    /// See [`Client::histogram`].
    pub fn histogram(self, name: &str, value: f64) {
        self.emit(name, Value::Histogram(value));
    }

    /// See [`Client::distribution`].
    pub fn distribution(self, name: &str, value: f64) {
        self.emit(name, Value::Distribution(value));
    }

    /// See [`Client::set`].
    pub fn set(self, name: &str, member: impl fmt::Display) {
        self.emit(name, Value::Set(&member));
    }

    /// See [`Client::time`]. The guard keeps this view's tags and rate.
    pub fn time(self, name: &'a str) -> TimerGuard<'a> {
        TimerGuard {
            scope: self,
            name,
            start: Instant::now(),
            armed: true,
        }
    }

    fn emit(self, name: &str, value: Value<'_>) {
        self.client
            .emit(name, value, self.rate, Tags::Pairs(self.tags));
    }
}

impl fmt::Debug for Scoped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped")
            .field("tags", &self.tags)
            .field("rate", &self.rate)
            .finish()
    }
}

/// Times a scope: records the time since it was made as a timing when it
/// is dropped, unless [cancelled](Self::cancel).
#[must_use = "the timer records when dropped; binding it to `_` drops it at once"]
#[derive(Debug)]
pub struct TimerGuard<'a> {
    scope: Scoped<'a>,
    name: &'a str,
    start: Instant,
    armed: bool,
}

impl TimerGuard<'_> {
    /// The time since the guard was made.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Records now rather than at the end of the scope, and returns what was
    /// recorded.
    pub fn stop(mut self) -> Duration {
        self.armed = false;
        let elapsed = self.start.elapsed();
        self.scope.timing(self.name, elapsed);
        elapsed
    }

    /// Records nothing: the timed work failed or does not count.
    pub fn cancel(mut self) {
        self.armed = false;
    }
}

impl Drop for TimerGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.scope.timing(self.name, self.start.elapsed());
        }
    }
}
