//! The sender: writes the traffic to a server over UDP or TCP, paced and
//! batched, within a line count and a hard time limit.
//!
//! Lines are generated, packed by a [`Batcher`], held back by a [`Pacer`],
//! and written. The [`Truth`] learns about a line only once the write that
//! carried it succeeded, so what the checker expects is exactly what left
//! this process.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::batch::{Batcher, Batching};
use crate::pace::Pacer;
use crate::{sys, Error, Event, Kind, Traffic, Truth};

/// How lines travel to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Datagrams on a connected UDP socket.
    Udp,
    /// One TCP connection; every write ends with a newline.
    Tcp,
}

/// Where, how much and how fast to send.
#[derive(Clone, Debug)]
pub struct SendConfig {
    /// The server (loopback only).
    pub target: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// Lines to send at most.
    pub lines: u64,
    /// Target lines per second; `None` is as fast as possible.
    pub rate: Option<f64>,
    /// One line per datagram or packed up to a size.
    pub batching: Batching,
    /// Sending stops here even if lines remain; the report says so.
    pub time_limit: Duration,
    /// Datagrams per `sendmmsg` call (UDP); 1 uses plain `send`.
    pub mmsg: usize,
}

impl SendConfig {
    /// Default settings aimed at `target`: 100k lines, unlimited rate,
    /// 1,400-byte datagrams, two minutes at most.
    pub fn new(target: SocketAddr) -> Self {
        Self {
            target,
            transport: Transport::Udp,
            lines: 100_000,
            rate: None,
            batching: Batching::Bytes(1400),
            time_limit: Duration::from_secs(120),
            mmsg: 1,
        }
    }
}

/// What the sender did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SendReport {
    /// Lines written successfully.
    pub lines: u64,
    /// Of those, per kind (indexed like [`Kind::ALL`]).
    pub lines_by_kind: [u64; 5],
    /// Datagrams (UDP) or writes (TCP) that succeeded.
    pub writes: u64,
    /// Payload bytes written.
    pub bytes: u64,
    /// Writes the OS refused (e.g. `ECONNREFUSED` when nothing listens).
    pub send_errors: u64,
    /// Lines in the refused writes; not part of the truth.
    pub lines_failed: u64,
    /// From the first write to the last.
    pub elapsed: Duration,
    /// Sending stopped at the time limit before all lines were sent.
    pub hit_time_limit: bool,
}

impl SendReport {
    /// Lines per second achieved.
    pub fn rate(&self) -> f64 {
        per_second(self.lines, self.elapsed)
    }

    /// Writes per second achieved.
    pub fn write_rate(&self) -> f64 {
        per_second(self.writes, self.elapsed)
    }

    /// Lines sent of one kind.
    pub fn lines_of(&self, kind: Kind) -> u64 {
        self.lines_by_kind[kind.index()]
    }
}

fn per_second(n: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        n as f64 / elapsed.as_secs_f64()
    }
}

/// Sends `config.lines` lines of `traffic` and records each sent line in
/// `truth`. Returns an error only when the connection cannot be made or a
/// TCP write fails; refused datagrams are counted instead.
pub fn send(
    config: &SendConfig,
    traffic: &mut Traffic,
    truth: &mut Truth,
) -> Result<SendReport, Error> {
    send_with_progress(config, traffic, truth, &mut |_| {})
}

/// How often [`send_with_progress`] reports: often enough for a progress
/// bar to move smoothly, rarely enough to cost nothing next to the writes.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// [`send`], calling `on_sent` with the lines handed to the socket so far
/// at most every [`PROGRESS_EVERY`] (checked after each write, so a slow
/// write delays it), and once at the end.
pub fn send_with_progress(
    config: &SendConfig,
    traffic: &mut Traffic,
    truth: &mut Truth,
    on_sent: &mut dyn FnMut(u64),
) -> Result<SendReport, Error> {
    crate::require_loopback(config.target)?;
    let batching = config.batching.validate()?;
    let mut out = Output::open(config)?;
    let mut report = SendReport::default();
    let start = Instant::now();
    let pacer = Pacer::new(config.rate, start)?;
    let deadline = start + config.time_limit;

    let mut batcher = Batcher::new(batching);
    let mut events: Vec<Event> = Vec::new();
    let mut line = Vec::with_capacity(128);
    // Lines handed to the output so far, sent or queued: the pacer's clock.
    let mut handed: u64 = 0;
    let mut generated: u64 = 0;
    let mut next_progress = start + PROGRESS_EVERY;
    while generated < config.lines {
        line.clear();
        let event = traffic.next_line(&mut line);
        generated += 1;
        if !batcher.fits(line.len()) {
            if let Some(wait) = pacer.wait(handed, Instant::now()) {
                std::thread::sleep(wait);
            }
            handed += batcher.lines() as u64;
            out.write(batcher.payload(), &mut events, truth, &mut report)?;
            batcher.clear();
            let now = Instant::now();
            if now >= next_progress {
                on_sent(handed);
                next_progress = now + PROGRESS_EVERY;
            }
            if now >= deadline {
                report.hit_time_limit = true;
                break;
            }
        }
        batcher.push(&line);
        events.push(event);
    }
    if !report.hit_time_limit && batcher.lines() > 0 {
        if let Some(wait) = pacer.wait(handed, Instant::now()) {
            std::thread::sleep(wait);
        }
        out.write(batcher.payload(), &mut events, truth, &mut report)?;
    }
    out.finish(truth, &mut report)?;
    report.elapsed = start.elapsed();
    on_sent(report.lines + report.lines_failed);
    for kind in Kind::ALL {
        report.lines_by_kind[kind.index()] = truth.lines(kind);
    }
    Ok(report)
}

/// A payload waiting in the `sendmmsg` queue with the lines it carries.
#[derive(Debug, Default)]
struct Queued {
    payload: Vec<u8>,
    events: Vec<Event>,
}

#[derive(Debug)]
enum Output {
    Udp {
        socket: UdpSocket,
    },
    UdpMany {
        socket: UdpSocket,
        queue: Vec<Queued>,
        used: usize,
    },
    Tcp {
        stream: TcpStream,
        buffer: Vec<u8>,
        target: SocketAddr,
    },
}

impl Output {
    fn open(config: &SendConfig) -> Result<Self, Error> {
        let target = config.target;
        match config.transport {
            Transport::Udp => {
                let local: SocketAddr = if target.is_ipv4() {
                    ([127, 0, 0, 1], 0).into()
                } else {
                    (std::net::Ipv6Addr::LOCALHOST, 0).into()
                };
                let socket = UdpSocket::bind(local)
                    .and_then(|s| s.connect(target).map(|()| s))
                    .map_err(|e| Error::io(format!("opening UDP socket to {target}"), e))?;
                if config.mmsg > 1 {
                    let queue = (0..config.mmsg).map(|_| Queued::default()).collect();
                    Ok(Output::UdpMany {
                        socket,
                        queue,
                        used: 0,
                    })
                } else {
                    Ok(Output::Udp { socket })
                }
            }
            Transport::Tcp => {
                let stream = TcpStream::connect_timeout(&target, Duration::from_secs(5))
                    .map_err(|e| Error::io(format!("connecting to {target} over TCP"), e))?;
                // Writes are already batched; waiting for more only adds lag.
                stream
                    .set_nodelay(true)
                    .map_err(|e| Error::io(format!("setting TCP_NODELAY on {target}"), e))?;
                Ok(Output::Tcp {
                    stream,
                    buffer: Vec::with_capacity(2048),
                    target,
                })
            }
        }
    }

    /// Writes (or queues) one payload carrying `events`, which it drains.
    fn write(
        &mut self,
        payload: &[u8],
        events: &mut Vec<Event>,
        truth: &mut Truth,
        report: &mut SendReport,
    ) -> Result<(), Error> {
        match self {
            Output::Udp { socket } => match socket.send(payload) {
                Ok(_) => commit(payload.len(), events, truth, report),
                Err(_) => fail(events, report),
            },
            Output::UdpMany { queue, used, .. } => {
                let slot = &mut queue[*used];
                slot.payload.clear();
                slot.payload.extend_from_slice(payload);
                slot.events.clear();
                slot.events.append(events);
                *used += 1;
                if *used == queue.len() {
                    self.flush_queue(truth, report);
                }
            }
            Output::Tcp {
                stream,
                buffer,
                target,
            } => {
                buffer.clear();
                buffer.extend_from_slice(payload);
                buffer.push(b'\n');
                stream
                    .write_all(buffer)
                    .map_err(|e| Error::io(format!("writing to {target} over TCP"), e))?;
                commit(buffer.len(), events, truth, report);
            }
        }
        events.clear();
        Ok(())
    }

    /// Sends whatever the `sendmmsg` queue holds; for TCP, flushes.
    fn finish(&mut self, truth: &mut Truth, report: &mut SendReport) -> Result<(), Error> {
        match self {
            Output::Udp { .. } => Ok(()),
            Output::UdpMany { .. } => {
                self.flush_queue(truth, report);
                Ok(())
            }
            Output::Tcp { stream, target, .. } => stream
                .flush()
                .map_err(|e| Error::io(format!("flushing TCP to {target}"), e)),
        }
    }

    fn flush_queue(&mut self, truth: &mut Truth, report: &mut SendReport) {
        let Output::UdpMany {
            socket,
            queue,
            used,
        } = self
        else {
            return;
        };
        let mut from = 0;
        // Each round sends at least one datagram or fails one, so this ends
        // after at most `used` rounds.
        while from < *used {
            let payloads: Vec<&[u8]> = queue[from..*used].iter().map(|q| &q.payload[..]).collect();
            match sys::send_many(socket, &payloads) {
                Ok(sent) if sent > 0 => {
                    for q in &mut queue[from..from + sent] {
                        commit(q.payload.len(), &mut q.events, truth, report);
                    }
                    from += sent;
                }
                _ => {
                    fail(&mut queue[from].events, report);
                    from += 1;
                }
            }
        }
        *used = 0;
    }
}

fn commit(bytes: usize, events: &mut Vec<Event>, truth: &mut Truth, report: &mut SendReport) {
    for event in events.iter() {
        truth.record(event);
    }
    report.lines += events.len() as u64;
    report.writes += 1;
    report.bytes += bytes as u64;
    events.clear();
}

fn fail(events: &mut Vec<Event>, report: &mut SendReport) {
    report.send_errors += 1;
    report.lines_failed += events.len() as u64;
    events.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mix, TrafficConfig};
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    fn setup(mix: Mix) -> (Traffic, Truth) {
        let traffic = Traffic::new(TrafficConfig {
            mix,
            names: 10,
            ..TrafficConfig::default()
        })
        .unwrap();
        (traffic, Truth::new(10, 0.1))
    }

    /// Reads datagrams until `lines` lines arrived or 5 s passed.
    fn drain(rx: &UdpSocket, lines: u64) -> (u64, u64) {
        rx.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let (mut got_lines, mut datagrams) = (0u64, 0u64);
        let mut buf = [0u8; 65536];
        let until = Instant::now() + Duration::from_secs(5);
        while got_lines < lines && Instant::now() < until {
            if let Ok(n) = rx.recv(&mut buf) {
                datagrams += 1;
                got_lines += buf[..n].split(|&b| b == b'\n').count() as u64;
            }
        }
        (got_lines, datagrams)
    }

    #[test]
    fn udp_single_sends_one_line_per_datagram() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut config = SendConfig::new(rx.local_addr().unwrap());
        config.lines = 200;
        config.batching = Batching::Single;
        let (mut traffic, mut truth) = setup(Mix::standard());
        let report = send(&config, &mut traffic, &mut truth).unwrap();
        assert_eq!(
            (report.lines, report.writes, report.send_errors),
            (200, 200, 0)
        );
        assert_eq!(report.lines_by_kind, [100, 20, 40, 20, 20]);
        assert_eq!(truth.total_lines(), 200);
        assert_eq!(drain(&rx, 200), (200, 200));
    }

    #[test]
    fn udp_batched_with_sendmmsg_packs_lines() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut config = SendConfig::new(rx.local_addr().unwrap());
        config.lines = 1000;
        config.batching = Batching::Bytes(200);
        config.mmsg = 8;
        let (mut traffic, mut truth) = setup(Mix::counters());
        let report = send(&config, &mut traffic, &mut truth).unwrap();
        assert_eq!(report.lines, 1000);
        // "bench.c.N:1|c" is 13 bytes, 14 with its newline: 14 lines fit in 200.
        assert_eq!(report.writes, 1000_u64.div_ceil(14));
        assert_eq!(truth.total(Kind::Counter), 1000.0);
        assert_eq!(drain(&rx, 1000), (1000, report.writes));
    }

    #[test]
    fn pacing_holds_the_rate() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut config = SendConfig::new(rx.local_addr().unwrap());
        config.lines = 2000;
        config.rate = Some(10_000.0);
        config.batching = Batching::Bytes(300);
        let (mut traffic, mut truth) = setup(Mix::counters());
        let report = send(&config, &mut traffic, &mut truth).unwrap();
        // The last datagram is due at (2000 - its lines) / 10k s, ~0.2 s.
        assert!(
            report.elapsed >= Duration::from_millis(190),
            "{:?}",
            report.elapsed
        );
        assert!(
            report.elapsed < Duration::from_secs(2),
            "{:?}",
            report.elapsed
        );
        drain(&rx, 2000);
    }

    #[test]
    fn time_limit_stops_sending() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut config = SendConfig::new(rx.local_addr().unwrap());
        config.lines = 1_000_000;
        config.rate = Some(1000.0);
        config.batching = Batching::Single;
        config.time_limit = Duration::from_millis(100);
        let (mut traffic, mut truth) = setup(Mix::counters());
        let report = send(&config, &mut traffic, &mut truth).unwrap();
        assert!(report.hit_time_limit);
        assert!(report.lines > 50 && report.lines < 200, "{}", report.lines);
        assert_eq!(truth.total_lines(), report.lines);
    }

    #[test]
    fn tcp_sends_newline_terminated_lines() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut config = SendConfig::new(listener.local_addr().unwrap());
        config.transport = Transport::Tcp;
        config.lines = 500;
        let reader = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        let (mut traffic, mut truth) = setup(Mix::standard());
        let report = send(&config, &mut traffic, &mut truth).unwrap();
        assert_eq!(report.lines, 500);
        let lines = reader.join().unwrap();
        assert_eq!(lines.len(), 500);
        assert!(lines.iter().all(|l| l.starts_with("bench.")), "{lines:?}");
    }

    #[test]
    fn refused_datagrams_are_not_in_the_truth() {
        // Bind then drop: nothing listens on the port, so loopback answers
        // with ICMP port unreachable and later sends fail.
        let target = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut config = SendConfig::new(target);
        config.lines = 300;
        config.batching = Batching::Single;
        let (mut traffic, mut truth) = setup(Mix::counters());
        let report = send(&config, &mut traffic, &mut truth).unwrap();
        assert!(report.send_errors > 0);
        assert_eq!(report.lines + report.lines_failed, 300);
        assert_eq!(truth.total_lines(), report.lines);
    }

    #[test]
    fn refuses_remote_targets() {
        let config = SendConfig::new("192.0.2.1:8125".parse().unwrap());
        let (mut traffic, mut truth) = setup(Mix::counters());
        assert!(matches!(
            send(&config, &mut traffic, &mut truth),
            Err(Error::NotLoopback(_))
        ));
    }
}
