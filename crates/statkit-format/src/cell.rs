//! What a metric's cells hold, word by word.
//!
//! A cell word is 8 bytes, little-endian, 8-aligned. Values that take more
//! than one word are guarded by a sequence pair: the writer bumps the last
//! word (`end`), stores the values, then copies `end` into the first word
//! (`begin`). A reader copies the words in ascending order, so it loads them
//! in the reverse order of the writer's stores; when it finds
//! `begin != end` it has caught a write in progress and reads again.
//!
//! | kind | block | words |
//! | --- | --- | --- |
//! | counter | each thread's | `[count]` |
//! | gauge | 0 | `[f64]` |
//! | moving average | 0 | `[f64]` |
//! | average | each thread's | `[begin, count, sum f64, end]` |
//! | text | 0 | `[begin, len, 64 bytes, end]` |
//! | histogram | each thread's | `[begin, count, sum f64, min f64, max f64, buckets.., end]` |

use crate::bytes::u64_at;
use crate::histogram::{Histogram, BUCKETS};
use crate::{FormatError, Kind};

/// Longest text value, in bytes.
pub const TEXT_MAX: usize = 64;

/// Word indices of a histogram cell.
pub mod histogram {
    pub const BEGIN: u32 = 0;
    pub const COUNT: u32 = 1;
    pub const SUM: u32 = 2;
    pub const MIN: u32 = 3;
    pub const MAX: u32 = 4;
    pub const BUCKETS: u32 = 5;
    pub const END: u32 = BUCKETS + crate::histogram::BUCKETS as u32;
}

/// Word indices of an average cell.
pub mod average {
    pub const BEGIN: u32 = 0;
    pub const COUNT: u32 = 1;
    pub const SUM: u32 = 2;
    pub const END: u32 = 3;
}

/// Word indices of a text cell.
pub mod text {
    pub const BEGIN: u32 = 0;
    pub const LEN: u32 = 1;
    pub const BYTES: u32 = 2;
    pub const END: u32 = BYTES + (super::TEXT_MAX / 8) as u32;
}

/// Words a kind's cells take.
pub fn words(kind: Kind) -> u32 {
    match kind {
        Kind::Counter | Kind::Gauge | Kind::MovingAverage => 1,
        Kind::Average => average::END + 1,
        Kind::Text => text::END + 1,
        Kind::Histogram => histogram::END + 1,
    }
}

// Words [`Cells::word`] has read on this thread: the decoder's unit of
// work, which the tests hold to the snapshot's length.
#[cfg(test)]
thread_local! {
    pub(crate) static WORDS_READ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// One metric's cells in one block, read from a snapshot of the file.
#[derive(Debug, Clone, Copy)]
pub struct Cells<'a> {
    bytes: &'a [u8],
    base: u64,
}

impl<'a> Cells<'a> {
    /// The cells at word `slot` of the block starting at byte `block`.
    pub fn new(bytes: &'a [u8], block: u64, slot: u32) -> Self {
        Cells {
            bytes,
            base: block.saturating_add(u64::from(slot) * crate::layout::WORD),
        }
    }

    /// Word `index` of the cells.
    pub fn word(&self, index: u32) -> Result<u64, FormatError> {
        #[cfg(test)]
        WORDS_READ.with(|n| n.set(n.get() + 1));
        u64_at(
            self.bytes,
            self.base.saturating_add(u64::from(index) * 8),
            "metric cells",
        )
    }

    fn float(&self, index: u32) -> Result<f64, FormatError> {
        self.word(index).map(f64::from_bits)
    }

    /// Fails with [`FormatError::Torn`] when the sequence pair differs.
    fn check_whole(&self, begin: u32, end: u32, label: &str) -> Result<(), FormatError> {
        if self.word(begin)? == self.word(end)? {
            Ok(())
        } else {
            Err(FormatError::Torn {
                label: label.to_owned(),
            })
        }
    }

    /// A histogram cell.
    pub fn histogram(&self, label: &str) -> Result<Histogram, FormatError> {
        use histogram as h;
        self.check_whole(h::BEGIN, h::END, label)?;
        let mut buckets = Vec::with_capacity(BUCKETS);
        for index in 0..BUCKETS as u32 {
            buckets.push(self.word(h::BUCKETS + index)?);
        }
        Ok(Histogram {
            count: self.word(h::COUNT)?,
            sum: self.float(h::SUM)?,
            min: self.float(h::MIN)?,
            max: self.float(h::MAX)?,
            buckets,
        })
    }

    /// An average cell: count and sum.
    pub fn average(&self, label: &str) -> Result<(u64, f64), FormatError> {
        use average as a;
        self.check_whole(a::BEGIN, a::END, label)?;
        Ok((self.word(a::COUNT)?, self.float(a::SUM)?))
    }

    /// A text cell.
    pub fn text(&self, label: &str) -> Result<String, FormatError> {
        use text as t;
        self.check_whole(t::BEGIN, t::END, label)?;
        let len = self.word(t::LEN)?;
        if len > TEXT_MAX as u64 {
            return Err(FormatError::SizeLying {
                field: "text length",
                value: len,
                limit: TEXT_MAX as u64,
            });
        }
        let start = self.base.saturating_add(u64::from(t::BYTES) * 8);
        let bytes = crate::bytes::slice(self.bytes, start, len, "text cell")?;
        // A bad byte becomes U+FFFD, three bytes: cut back to what a cell
        // holds, so a decoded text always fits one again.
        let text = String::from_utf8_lossy(bytes);
        Ok(crate::layout::truncate_utf8(&text, TEXT_MAX).to_owned())
    }

    /// A one-word f64 cell.
    pub fn f64(&self) -> Result<f64, FormatError> {
        self.float(0)
    }
}
