//! Packing lines into datagrams.
//!
//! statsd servers split a datagram on `\n`, so a client may pack many lines
//! into one, up to a size that avoids IP fragmentation (1,400 bytes leaves
//! room for headers under a 1,500-byte MTU). Batched and one-line-per-
//! datagram traffic cost a server very different amounts (per-datagram
//! wake-ups dominate the latter), which is why the benchmark measures both.

use crate::Error;

/// The smallest datagram size accepted: below it most lines would not fit.
pub const MIN_DATAGRAM: usize = 64;

/// How lines are grouped into datagrams (or TCP writes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batching {
    /// Every line alone in its datagram.
    Single,
    /// Lines joined by `\n` while the payload stays within this many bytes.
    /// A line longer than that on its own is still sent, alone.
    Bytes(usize),
}

impl Batching {
    /// Checks the datagram size.
    pub fn validate(self) -> Result<Self, Error> {
        match self {
            Batching::Bytes(n) if !(MIN_DATAGRAM..=65_507).contains(&n) => Err(Error::Config(
                format!("datagram size {n} is outside {MIN_DATAGRAM}..=65507 bytes"),
            )),
            _ => Ok(self),
        }
    }
}

/// Builds one payload at a time.
#[derive(Debug)]
pub struct Batcher {
    batching: Batching,
    payload: Vec<u8>,
    lines: usize,
}

impl Batcher {
    /// An empty batcher.
    pub fn new(batching: Batching) -> Self {
        let capacity = match batching {
            Batching::Single => 256,
            Batching::Bytes(n) => n,
        };
        Self {
            batching,
            payload: Vec::with_capacity(capacity),
            lines: 0,
        }
    }

    /// Whether a line of `len` bytes can join the current payload. An empty
    /// payload takes any line.
    pub fn fits(&self, len: usize) -> bool {
        if self.lines == 0 {
            return true;
        }
        match self.batching {
            Batching::Single => false,
            Batching::Bytes(max) => self.payload.len() + 1 + len <= max,
        }
    }

    /// Adds a line (without its newline); call [`Batcher::fits`] first.
    pub fn push(&mut self, line: &[u8]) {
        if self.lines > 0 {
            self.payload.push(b'\n');
        }
        self.payload.extend_from_slice(line);
        self.lines += 1;
    }

    /// Lines in the current payload.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// The current payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Empties the batcher for the next payload.
    pub fn clear(&mut self) {
        self.payload.clear();
        self.lines = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Traffic, TrafficConfig};

    #[test]
    fn single_holds_one_line() {
        let mut b = Batcher::new(Batching::Single);
        assert!(b.fits(10));
        b.push(b"a.b:1|c");
        assert!(!b.fits(1));
        assert_eq!(b.payload(), b"a.b:1|c");
        b.clear();
        assert!(b.fits(1));
        assert_eq!(b.lines(), 0);
    }

    #[test]
    fn packs_up_to_the_byte_limit_exactly() {
        let mut b = Batcher::new(Batching::Bytes(64));
        let line = [b'x'; 20];
        for _ in 0..3 {
            assert!(b.fits(line.len()));
            b.push(&line);
        }
        // 3 lines and 2 newlines = 62 bytes; a fourth needs 83.
        assert_eq!(b.payload().len(), 62);
        assert!(!b.fits(20));
        assert!(b.fits(1));
        b.push(b"y");
        assert_eq!(b.payload().len(), 64);
        assert_eq!(b.lines(), 4);
        assert!(!b.fits(0));
    }

    #[test]
    fn oversized_line_goes_alone() {
        let mut b = Batcher::new(Batching::Bytes(64));
        assert!(b.fits(100));
        b.push(&[b'z'; 100]);
        assert!(!b.fits(1));
    }

    #[test]
    fn standard_mix_packs_about_87_lines_per_1400_bytes() {
        // With a three-letter prefix and 1,000 names per kind, the project's
        // benchmark mix averages about 16 bytes a line, newline included.
        let config = TrafficConfig {
            prefix: "mix".into(),
            ..TrafficConfig::default()
        };
        let mut traffic = Traffic::new(config).unwrap();
        let mut b = Batcher::new(Batching::Bytes(1400));
        let (mut datagrams, mut lines, mut line) = (0usize, 0usize, Vec::new());
        while datagrams < 1000 {
            line.clear();
            traffic.next_line(&mut line);
            if !b.fits(line.len()) {
                assert!(b.payload().len() <= 1400);
                assert!(b.payload().len() + 1 + line.len() > 1400);
                datagrams += 1;
                lines += b.lines();
                b.clear();
            }
            b.push(&line);
        }
        let per_datagram = lines as f64 / datagrams as f64;
        assert!((80.0..95.0).contains(&per_datagram), "{per_datagram}");
    }

    #[test]
    fn rejects_tiny_and_huge_datagrams() {
        assert!(Batching::Bytes(10).validate().is_err());
        assert!(Batching::Bytes(70_000).validate().is_err());
        assert_eq!(
            Batching::Bytes(1400).validate().unwrap(),
            Batching::Bytes(1400)
        );
        assert_eq!(Batching::Single.validate().unwrap(), Batching::Single);
    }
}
