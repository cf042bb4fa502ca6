//! Finding delimiters eight bytes at a time.
//!
//! A statsd line is a handful of short fields, and a loop that looks at one
//! byte at a time leaves each field on a branch whose outcome depends on
//! the field's length, which the processor cannot predict across lines of
//! different names. Searching the line ends and key ends this way took a
//! third to two fifths off a line (`cargo bench -p statkit-wire`).
//! Here a field of up to eight bytes takes one word, and the position comes
//! from arithmetic rather than from a branch per byte.
//!
//! The word trick: for `v = word ^ splat(x)`, `(v - 0x01..) & !v & 0x80..`
//! sets the top bit of every byte of `word` equal to `x`, and possibly of
//! bytes above such a byte (a borrow), never below. The lowest set bit
//! therefore always marks the first match, which is all these functions use.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Top bits set in the bytes of `word` equal to `x` (exact for the lowest).
#[inline(always)]
fn equal(word: u64, x: u8) -> u64 {
    let v = word ^ (ONES * u64::from(x));
    v.wrapping_sub(ONES) & !v & HIGHS
}

/// Up to eight bytes as a little-endian word, zero above `bytes.len()`.
/// Overlapping loads instead of a byte loop: no branch on the exact length.
#[inline(always)]
fn load(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    if n >= 8 {
        u64::from_le_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ])
    } else if n >= 4 {
        let low = u64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
        let high = u64::from(u32::from_le_bytes([
            bytes[n - 4],
            bytes[n - 3],
            bytes[n - 2],
            bytes[n - 1],
        ]));
        low | high << (8 * (n - 4))
    } else if n > 0 {
        let (first, middle, last) = (bytes[0], bytes[n / 2], bytes[n - 1]);
        u64::from(first) | u64::from(middle) << (8 * (n / 2)) | u64::from(last) << (8 * (n - 1))
    } else {
        0
    }
}

/// The first byte position in `bytes` where `matches` of its word is set.
#[inline(always)]
fn first(bytes: &[u8], matches: impl Fn(u64) -> u64) -> Option<usize> {
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let found = matches(load(rest));
        if found != 0 {
            let i = at + (found.trailing_zeros() / 8) as usize;
            // A zero byte past the end of a short word may match `0`.
            return (i < bytes.len()).then_some(i);
        }
        at += 8;
    }
    None
}

/// Position of the first `x` in `bytes`.
#[inline]
pub(super) fn find(bytes: &[u8], x: u8) -> Option<usize> {
    first(bytes, |word| equal(word, x))
}

/// Position of the first byte of `bytes` that is `a` or `b`.
#[inline]
pub(super) fn find_either(bytes: &[u8], a: u8, b: u8) -> Option<usize> {
    first(bytes, |word| equal(word, a) | equal(word, b))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn finds_the_first_match_at_every_length_and_offset() {
        for len in 0..40 {
            for at in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[at] = b':';
                if at + 1 < len {
                    bytes[at + 1] = b':';
                }
                assert_eq!(find(&bytes, b':'), Some(at), "{len} {at}");
                assert_eq!(find_either(&bytes, b'|', b':'), Some(at));
            }
            assert_eq!(find(&vec![b'a'; len], b':'), None);
        }
    }

    #[test]
    fn a_borrow_never_hides_the_first_match() {
        // 0x01 right above a match is where the word trick's borrow lands.
        assert_eq!(find(b"\x00\x01\x00", 0), Some(0));
        assert_eq!(find(b"ab:\x3b;", b':'), Some(2));
        assert_eq!(find_either(b"xx\x7c\x7d|", b'|', b':'), Some(2));
    }

    #[test]
    fn zero_bytes_are_found_and_padding_is_not() {
        assert_eq!(find(b"abc", 0), None);
        assert_eq!(find(b"ab\0", 0), Some(2));
        assert_eq!(find(b"", 0), None);
        assert_eq!(find(&[1u8; 13], 0), None);
    }

    proptest! {
        #[test]
        fn agrees_with_a_byte_loop(
            bytes in prop::collection::vec(any::<u8>(), 0..64),
            a in any::<u8>(),
            b in any::<u8>(),
        ) {
            prop_assert_eq!(find(&bytes, a), bytes.iter().position(|&x| x == a));
            prop_assert_eq!(
                find_either(&bytes, a, b),
                bytes.iter().position(|&x| x == a || x == b)
            );
        }

        #[test]
        fn agrees_on_delimiter_heavy_bytes(
            bytes in prop::collection::vec(prop::sample::select(b":|\n\0\x01a".to_vec()), 0..40),
        ) {
            prop_assert_eq!(find(&bytes, b'\n'), bytes.iter().position(|&x| x == b'\n'));
            prop_assert_eq!(
                find_either(&bytes, b':', b'|'),
                bytes.iter().position(|&x| x == b':' || x == b'|')
            );
        }
    }
}
