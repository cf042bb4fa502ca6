//! The benchmark mix the aggregation benches share (and `statkit bench`
//! sends): 50% counters, 10% sampled counters, 20% timers, 10% gauges, 10%
//! sets.

/// Datagrams of ~1400 bytes holding lines `lines` of the mix, cycling over
/// `names` names per kind.
pub fn traffic(names: usize, lines: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    let mut datagrams = Vec::new();
    let mut current = Vec::new();
    for i in lines {
        let n = i % names;
        let line = match i % 10 {
            0..=4 => format!("bench.c.{n}:1|c"),
            5 => format!("bench.sc.{n}:1|c|@0.1"),
            6 | 7 => format!("bench.ms.{n}:{}.{}|ms", i % 500, i % 10),
            8 => format!("bench.g.{n}:{}|g", i % 100),
            _ => format!("bench.s.{n}:{}|s", i % 100),
        };
        if current.len() + line.len() + 1 > 1400 {
            datagrams.push(std::mem::take(&mut current));
        }
        current.extend_from_slice(line.as_bytes());
        current.push(b'\n');
    }
    datagrams.push(current);
    datagrams
}
