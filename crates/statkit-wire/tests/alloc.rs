//! The promise that parsing costs no allocation, kept as a test: a counting
//! global allocator watches the parser work through every kind of line it
//! knows, good and bad, and the key builder work with a scratch buffer that
//! has already grown.

use std::hint::black_box;

use statkit_testkit::allocations_during;
use statkit_wire::statsd::{canonical_key, parse_datagram, ParseError, Sample, Visitor};

#[global_allocator]
static GLOBAL: statkit_testkit::CountingAllocator = statkit_testkit::CountingAllocator;

/// One line of each shape the parser knows, then one of each way to be
/// wrong, each followed by what it yields.
const BATCH: &str = concat!(
    "req.count:1|c\n",                                 // sample
    "req.sampled:3|c|@0.1\n",                          // sample
    "temp:+2|g\n",                                     // sample
    "temp:-1.5|g\n",                                   // sample
    "lat:12.5|ms|@0.5|#env:prod,region:eu\n",          // sample
    "users:alice|s\n",                                 // sample
    "size:1:2:3.5|d|#env:prod|T1700000000|c:abc123\n", // 3 samples
    "multi:1|c:12|ms|@0.25:7|g|#env:prod|#ignored\n",  // 3 samples
    "padded: 4 | c\r\n",                               // sample
    "weird\u{a0}key:\u{feff}5\u{3000}|h\n",            // sample
    "exp:1e-3|ms\n",                                   // sample
    "_e{5,4}:title|text|#env:prod\n",                  // event
    "_sc|db.up|0|#env:prod\n",                         // service check
    "bad\n",                                           // MissingValue
    ":1|c\n",                                          // EmptyKey
    "k:1|x\n",                                         // UnknownType
    "k:1|c|@0\n",                                      // InvalidSampleRate
    "k:NaN|g\n",                                       // InvalidNumber
    "k:-1|ms\n",                                       // InvalidNumber
    "k:1|c|zz\n",                                      // UnknownField
    "k:1|g|Tsoon\n",                                   // InvalidTimestamp
    "_e{5,4}:oops\n",                                  // MalformedEvent
    "a|#b:1|c\n",                                      // MissingValue
    "k:1:x:2|c\n",                                     // 2 samples, InvalidNumber
);

/// Tallies what it is shown without keeping any of it, and builds each
/// sample's key the way the daemon does.
#[derive(Default)]
struct Tally {
    lines: usize,
    samples: usize,
    invalid: usize,
    events: usize,
    service_checks: usize,
    key_bytes: usize,
    scratch: Vec<u8>,
}

impl<'a> Visitor<'a> for Tally {
    fn sample(&mut self, sample: Sample<'a>) {
        self.samples += 1;
        self.key_bytes += canonical_key(sample.name, sample.tags, true, &mut self.scratch).len();
    }
    fn invalid(&mut self, line: &'a [u8], error: ParseError) {
        black_box((line, error));
        self.invalid += 1;
    }
    fn line(&mut self) {
        self.lines += 1;
    }
    fn event(&mut self) {
        self.events += 1;
    }
    fn service_check(&mut self) {
        self.service_checks += 1;
    }
}

#[test]
fn parsing_a_mixed_batch_does_not_allocate() {
    let mut tally = Tally {
        scratch: Vec::with_capacity(256),
        ..Tally::default()
    };
    let allocations =
        allocations_during(|| parse_datagram(black_box(BATCH.as_bytes()), &mut tally));
    assert_eq!(allocations, 0);
    // The batch really went through every path counted above.
    assert_eq!(
        (
            tally.lines,
            tally.samples,
            tally.invalid,
            tally.events,
            tally.service_checks
        ),
        (24, 17, 11, 1, 1)
    );
    assert!(tally.key_bytes > 0);
}

#[test]
fn canonical_key_with_grown_scratch_does_not_allocate() {
    let keys: [(&[u8], &[u8]); 5] = [
        (b"clean.key", b""),
        (b"needs sanitizing/here!", b""),
        (b"tagged", b"env:prod,region:eu-west-1,canary"),
        ("unicode\u{2003}space\u{e9}".as_bytes(), b"k;v:w:x"),
        (b"bytes\xff\xfe", b"path:/api v1"),
    ];
    let mut scratch = Vec::with_capacity(256);
    let mut total = 0;
    let allocations = allocations_during(|| {
        for (name, tags) in keys {
            total += canonical_key(black_box(name), black_box(tags), true, &mut scratch).len();
        }
    });
    assert_eq!(allocations, 0);
    assert_eq!(
        total,
        "clean.key".len()
            + "needs_sanitizing-here".len()
            + "tagged;env=prod;region=eu-west-1;canary".len()
            + "unicode_space;k_v=wx".len()
            + "bytes;path=-api_v1".len()
    );
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the two tests above against a counter that never counts.
    let allocations = allocations_during(|| {
        black_box(Vec::<u8>::with_capacity(black_box(16)));
    });
    assert_eq!(allocations, 1);
}
