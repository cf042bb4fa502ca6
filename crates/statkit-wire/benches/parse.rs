//! Lines parsed per second on one core, for the line shapes that dominate
//! real traffic.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use statkit_wire::statsd::{parse_datagram, ParseError, Sample, Visitor};

struct Count(usize);

impl<'a> Visitor<'a> for Count {
    fn sample(&mut self, sample: Sample<'a>) {
        self.0 += sample.name.len();
    }
    fn invalid(&mut self, _: &'a [u8], _: ParseError) {}
}

fn datagram(lines: &[&str]) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut n = 0;
    while out.len() < 1300 {
        for line in lines {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
            n += 1;
        }
    }
    (out, n)
}

fn bench(c: &mut Criterion) {
    let cases: [(&str, &[&str]); 3] = [
        ("counters", &["lg.c.123:1|c", "lg.c.77:3|c"]),
        (
            "mixed",
            &[
                "lg.c.1:1|c",
                "lg.sc.2:1|c|@0.1",
                "lg.ms.3:12.3|ms",
                "lg.g.4:42|g",
                "lg.s.5:17|s",
            ],
        ),
        (
            "dogstatsd",
            &[
                "api.req:1|c|#env:prod,region:eu",
                "api.lat:1.5:2.5:3|d|@0.5|#env:prod|T1700000000",
            ],
        ),
    ];
    let mut group = c.benchmark_group("parse_datagram");
    for (name, lines) in cases {
        let (bytes, n) = datagram(lines);
        group.throughput(Throughput::Elements(n));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut count = Count(0);
                parse_datagram(std::hint::black_box(&bytes), &mut count);
                count.0
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
