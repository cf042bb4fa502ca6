//! The state file: the whole store as bytes, and back.
//!
//! Layout (integers little-endian):
//!
//! ```text
//! magic    8 bytes  "STKSTORE"
//! version  u32      1
//! length   u64      bytes of payload
//! payload  ...      see `write_store`
//! crc32    u32      CRC-32 (IEEE) of the payload
//! ```
//!
//! A file with another magic is not ours; another version, a wrong length
//! or checksum, or a payload that does not parse is refused whole: the
//! caller sets it aside and starts empty. Rings are restored into the
//! current byte budget (the oldest rows go when it shrank), and bucket
//! totals are dropped when the bounds changed.

use std::sync::Arc;

use crate::frames::Frame;
use crate::kind::Kind;
use crate::series::{capacities, Series};
use crate::store::{Options, Store};

const MAGIC: &[u8; 8] = b"STKSTORE";
/// The format written; the only one read.
pub const VERSION: u32 = 1;
/// Bytes before the payload.
const HEADER: usize = 8 + 4 + 8;

/// Why a state file was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    #[error("not a statkit state file (no STKSTORE magic)")]
    Foreign,
    #[error("state file version {0}, but this statkit reads version {VERSION}")]
    Version(u32),
    #[error("state file truncated: {0}")]
    Truncated(&'static str),
    #[error("state file checksum mismatch: corrupt")]
    Checksum,
    #[error("state file holds an invalid {0}")]
    Invalid(&'static str),
}

/// The store as a state file's bytes.
pub fn encode(store: &Store) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(HEADER + store.len() * 256));
    w.0.extend_from_slice(MAGIC);
    w.u32(VERSION);
    w.u64(0); // the length, filled in below
    write_store(&mut w, store);
    let payload_len = (w.0.len() - HEADER) as u64;
    w.0[12..20].copy_from_slice(&payload_len.to_le_bytes());
    let crc = crc32fast::hash(&w.0[HEADER..]);
    w.u32(crc);
    w.0
}

/// A store with `options`, holding what `bytes` saved.
pub fn decode(bytes: &[u8], options: Options) -> Result<Store, StateError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(StateError::Foreign);
    }
    let mut header = Reader {
        bytes: &bytes[MAGIC.len()..],
    };
    let version = header.u32("header")?;
    if version != VERSION {
        return Err(StateError::Version(version));
    }
    let length =
        usize::try_from(header.u64("header")?).map_err(|_| StateError::Invalid("length"))?;
    let rest = &bytes[HEADER..];
    if rest.len() != length.saturating_add(4) {
        return Err(StateError::Truncated("length does not match"));
    }
    let (payload, crc) = rest.split_at(length);
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| StateError::Truncated("crc"))?);
    if crc32fast::hash(payload) != crc {
        return Err(StateError::Checksum);
    }
    read_store(&mut Reader { bytes: payload }, options)
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    fn f64s(&mut self, values: &[f64]) {
        self.len(values.len());
        values.iter().for_each(|&v| self.f64(v));
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], StateError> {
        if self.bytes.len() < n {
            return Err(StateError::Truncated(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], StateError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, StateError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, StateError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, StateError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn f64(&mut self, what: &'static str) -> Result<f64, StateError> {
        Ok(f64::from_le_bytes(self.array(what)?))
    }
    fn f32(&mut self, what: &'static str) -> Result<f32, StateError> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }
    /// A length, checked against what is left (each item at least
    /// `item_bytes` long), so a corrupt length cannot ask for gigabytes.
    fn len(&mut self, item_bytes: usize, what: &'static str) -> Result<usize, StateError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(item_bytes.max(1)) > self.bytes.len() {
            return Err(StateError::Truncated(what));
        }
        Ok(n)
    }
    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], StateError> {
        let n = self.len(1, what)?;
        self.take(n, what)
    }
    fn f64s(&mut self, what: &'static str) -> Result<Vec<f64>, StateError> {
        let n = self.len(8, what)?;
        (0..n).map(|_| self.f64(what)).collect()
    }
}

fn write_store(w: &mut Writer, store: &Store) {
    w.u64(store.last_flush());
    w.f64(store.interval_s());
    w.bytes(store.pct_label().as_bytes());
    w.f64s(&store.options().bounds);
    w.u64(store.dropped_series());
    w.u64(store.len() as u64);
    for (kind, key, series) in store.iter() {
        w.u8(kind.index() as u8);
        w.bytes(key);
        write_series(w, series);
    }
}

fn write_series(w: &mut Writer, s: &Series) {
    w.u64(s.last_time);
    w.f64s(&s.last);
    w.f64(s.total);
    w.f64(s.sum);
    w.f64s(&s.buckets);
    for ring in [&s.fine, &s.coarse] {
        let rows: Vec<_> = ring.since(0).collect();
        w.len(rows.len());
        for (t, values) in rows {
            w.u32(t);
            values
                .iter()
                .for_each(|v| w.0.extend_from_slice(&v.to_le_bytes()));
        }
    }
    w.u32(s.minute.index);
    s.minute.acc.iter().for_each(|&v| w.f64(v));
    s.minute.seen.iter().for_each(|&n| w.u32(n));
    let frames: Vec<&Frame> = s.frames.iter().collect();
    w.len(frames.len());
    for f in frames {
        w.u64(f.index);
        w.u32(f.flushes);
        for v in [f.sum, f.count, f.lower, f.upper, f.mean_sum, f.last] {
            w.f64(v);
        }
    }
}

fn read_store(r: &mut Reader<'_>, options: Options) -> Result<Store, StateError> {
    let last_flush = r.u64("last flush")?;
    let interval_s = r.f64("interval")?;
    if !(interval_s.is_finite() && interval_s > 0.0) {
        return Err(StateError::Invalid("interval"));
    }
    let pct_label = String::from_utf8(r.bytes("percentile label")?.to_vec())
        .map_err(|_| StateError::Invalid("percentile label"))?;
    let bounds: Arc<[f64]> = r.f64s("bucket bounds")?.into();
    let same_bounds = bounds == options.bounds;
    let dropped = r.u64("dropped series")?;
    let count = r.u64("series count")?;
    let mut store = Store::new(options);
    store.restore_meta(last_flush, interval_s, pct_label, dropped);
    for _ in 0..count {
        let kind = *Kind::ALL
            .get(usize::from(r.u8("kind")?))
            .ok_or(StateError::Invalid("kind"))?;
        let key = r.bytes("key")?;
        let caps = capacities(kind, store.options().bytes_per_series, interval_s);
        let mut series = read_series(r, kind, caps)?;
        if !same_bounds {
            series.buckets.clear();
        }
        store.restore(kind, key, series);
    }
    if !r.bytes.is_empty() {
        return Err(StateError::Invalid("trailing bytes"));
    }
    Ok(store)
}

fn read_series(r: &mut Reader<'_>, kind: Kind, caps: (usize, usize)) -> Result<Series, StateError> {
    let width = kind.fields().len();
    let mut s = Series::new(kind, caps);
    s.last_time = r.u64("series time")?;
    s.last_active = s.last_time;
    s.last = r.f64s("last values")?;
    if s.last.len() != width {
        return Err(StateError::Invalid("row width"));
    }
    s.total = r.f64("total")?;
    s.sum = r.f64("sum")?;
    s.buckets = r.f64s("buckets")?;
    for ring in [&mut s.fine, &mut s.coarse] {
        let rows = r.len(4 + 4 * width, "history")?;
        let mut row = vec![0.0; width];
        for _ in 0..rows {
            let t = r.u32("history time")?;
            for v in row.iter_mut() {
                *v = f64::from(r.f32("history value")?);
            }
            ring.push(t, &row);
        }
    }
    s.minute.index = r.u32("minute")?;
    for v in s.minute.acc.iter_mut() {
        *v = r.f64("minute")?;
    }
    for n in s.minute.seen.iter_mut() {
        *n = r.u32("minute")?;
    }
    let frames = r.len(60, "frames")?;
    for _ in 0..frames {
        let index = r.u64("frame")?;
        let flushes = r.u32("frame")?;
        let mut v = [0.0; 6];
        for x in v.iter_mut() {
            *x = r.f64("frame")?;
        }
        s.frames.restore(Frame {
            index,
            flushes,
            sum: v[0],
            count: v[1],
            lower: v[2],
            upper: v[3],
            mean_sum: v[4],
            last: v[5],
        });
    }
    Ok(s)
}

#[cfg(test)]
mod tests;
