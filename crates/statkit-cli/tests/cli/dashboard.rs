//! The dashboard in a real browser: headless Chromium (Debian's
//! `chromium`) opens `/` of a `statkit serve` fed known traffic, runs the
//! page's script, and the rendered DOM must show the series' names, their
//! values, the server's health, a drawn chart with its axes for each, and
//! the process table a row for a stats file the statkit library writes in
//! this test. A second server holds more series than a page shows, in
//! several groups, and a counter with a gap: every series must be
//! reachable (pages, search), in natural order, and the gap a break in the
//! line.

use std::fs::File;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::{
    self, chromium, http_get, poll_until, run_bounded, send_udp, Dir, Process, Statkit,
};

/// Chromium headless with a profile of its own in `dir`, its scripts given
/// `budget` of virtual time (fetches included) before it writes its output.
fn headless(dir: &Dir, budget: Duration) -> Command {
    let mut command = chromium_in(dir);
    command.arg(format!("--virtual-time-budget={}", budget.as_millis()));
    command
}

/// Chromium headless with a profile of its own in `dir`.
fn chromium_in(dir: &Dir) -> Command {
    let mut command = Command::new(chromium());
    command
        .arg("--headless")
        // Tests run as root in CI, where Chromium's sandbox cannot start.
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        .arg("--no-first-run")
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ));
    command
}

/// A pipe's two ends, close-on-exec, moved to descriptors 10 and above so
/// that placing a child's ends on 3 and 4 cannot overwrite either.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let high = |fd: RawFd| {
        // SAFETY: fd is a descriptor pipe2 just opened and nothing else owns.
        let moved = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
        assert!(moved >= 10, "fcntl: {}", std::io::Error::last_os_error());
        // SAFETY: as above; the original is closed once, here.
        unsafe {
            libc::close(fd);
            OwnedFd::from_raw_fd(moved)
        }
    };
    (high(fds[0]), high(fds[1]))
}

/// Headless Chromium driven over its DevTools pipe
/// (`--remote-debugging-pipe`: commands on its descriptor 3, answers on 4,
/// each a JSON text ending in NUL), so a test can move the mouse, click and
/// type as a user does. Chromium is stopped when this is dropped.
struct Browser {
    to_chrome: File,
    from_chrome: File,
    buffer: Vec<u8>,
    next_id: u64,
    session: Option<String>,
    _dir: Dir,
    process: Process,
}

impl Browser {
    fn start() -> Browser {
        let dir = Dir::new("chromium-devtools");
        let (commands, to_chrome) = pipe();
        let (from_chrome, answers) = pipe();
        // Real time, not the budget of virtual time a dump gets.
        let mut command = chromium_in(&dir);
        command.args([
            "--remote-debugging-pipe",
            "--window-size=1280,900",
            "about:blank",
        ]);
        let (child_in, child_out) = (commands.as_raw_fd(), answers.as_raw_fd());
        // SAFETY: between fork and exec the closure only calls dup2, which
        // is async-signal-safe; both descriptors are 10 or above, so the
        // first dup2 cannot close the second's source.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(child_in, 3) < 0 || libc::dup2(child_out, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let process = Process::spawn("chromium", command);
        drop((commands, answers));
        Browser {
            to_chrome: File::from(to_chrome),
            from_chrome: File::from(from_chrome),
            buffer: Vec::new(),
            next_id: 0,
            session: None,
            _dir: dir,
            process,
        }
    }

    /// The next NUL-ended message, waiting at most until `deadline`.
    fn message(&mut self, deadline: Instant) -> Value {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == 0) {
                let raw: Vec<u8> = self.buffer.drain(..=end).collect();
                return serde_json::from_slice(&raw[..end]).expect("a DevTools message is JSON");
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "Chromium did not answer in time");
            let mut poll = libc::pollfd {
                fd: self.from_chrome.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
            // SAFETY: one pollfd, valid for the call.
            if unsafe { libc::poll(&mut poll, 1, ms) } <= 0 {
                continue;
            }
            let mut chunk = [0u8; 65536];
            let n = self
                .from_chrome
                .read(&mut chunk)
                .expect("read from Chromium");
            assert!(n > 0, "Chromium closed its DevTools pipe");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// Calls a DevTools method (on the page, once one is open) and returns
    /// its result; events that arrive meanwhile are skipped.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let mut message = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to_chrome.write_all(&bytes).expect("write to Chromium");
        let deadline = Instant::now() + util::TIMEOUT;
        loop {
            let reply = self.message(deadline);
            if reply["id"] == self.next_id {
                assert!(
                    reply.get("error").is_none(),
                    "{method}: {reply}\nChromium's output:\n{}",
                    self.process.log()
                );
                return reply["result"].clone();
            }
        }
    }

    /// Opens `url` in a new page that later calls go to.
    fn open(&mut self, url: &str) {
        self.session = None;
        let target = self.call("Target.createTarget", json!({"url": url}));
        let attached = self.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        self.session = attached["sessionId"].as_str().map(str::to_owned);
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page (an expression that
    /// throws, as one may while the page loads, is not true yet).
    fn wait_for(&mut self, expression: &str) {
        let guarded =
            format!("(() => {{ try {{ return {expression}; }} catch (e) {{ return false; }} }})()");
        let done = poll_until(util::TIMEOUT, || {
            (self.eval(&guarded) == true).then_some(())
        });
        assert!(done.is_some(), "never true: {expression}");
    }

    fn mouse(&mut self, kind: &str, x: f64, y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
        );
    }

    /// Clicks the middle of the element `selector` selects.
    fn click(&mut self, selector: &str) {
        let at = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); e.scrollIntoView({{block: 'center'}}); \
             const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
        ));
        let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        self.mouse("mouseMoved", x, y);
        self.mouse("mousePressed", x, y);
        self.mouse("mouseReleased", x, y);
    }
}

/// The same datagram every 100 ms (several per flush, so every flush
/// reports the same gauge, set members and timer percentiles) until
/// dropped.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Traffic {
    fn start(to: SocketAddr) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            // Bounded: at most ten minutes, though the test stops it sooner.
            for _ in 0..6000 {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                send_udp(to, &[DATAGRAM]);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Traffic {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const DATAGRAM: &str = "dash.req:5|c|#env:prod\ndash.load:42|g\ndash.lat:7|ms\ndash.lat:70|ms\ndash.users:ann|s\ndash.users:bob|s";

/// The rendered card of the series `key`: from its `<section` to its end.
fn card<'a>(dom: &'a str, key: &str) -> &'a str {
    let open = format!("<section class=\"card\" data-key=\"{key}\"");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no card {key} in:\n{dom}"));
    let end = dom[start..]
        .find("</section>")
        .map_or(dom.len(), |n| start + n);
    &dom[start..end]
}

/// The labels of a chart's `axis` ticks (`x` or `y`), in order.
fn tick_labels(html: &str, axis: &str) -> Vec<String> {
    let open = format!("class=\"tick {axis}\"");
    html.split(&open)
        .skip(1)
        .filter_map(|rest| {
            let text = &rest[rest.find('>')? + 1..];
            Some(text[..text.find('<')?].to_owned())
        })
        .collect()
}

/// Whether `text` is a wall-clock time, `HH:MM` or `HH:MM:SS`.
fn is_clock(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The `data-key` of every card in `dom`, in document order.
fn card_keys(dom: &str) -> Vec<&str> {
    dom.split("<section class=\"card\" data-key=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

/// The page at `path` once its script has drawn it, as Chromium's DOM.
fn dump(http: SocketAddr, path: &str) -> String {
    let dir = Dir::new("chromium");
    let mut dump = headless(&dir, Duration::from_secs(5));
    dump.arg("--dump-dom").arg(format!("http://{http}{path}"));
    let output = run_bounded(dump, Duration::from_secs(90));
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && dom.contains("data-loaded=\"true\""),
        "{path} never finished loading (status {:?}):\n{dom}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

/// Waits until the store holds a few flushes of the traffic.
fn wait_for_traffic(http: SocketAddr) {
    let fed = poll_until(util::TIMEOUT, || {
        let list = http_get(http, "/api/v1/metrics?filter=dash.&own=false", "").body;
        // Two seconds of the timer: a chart with a line, not a dot.
        let body: serde_json::Value = serde_json::from_str(&list).ok()?;
        let lat = body["metrics"]
            .as_array()?
            .iter()
            .find(|m| m["key"] == "dash.lat")?;
        (body["matching"] == 4 && lat["total"].as_f64()? >= 30.0).then_some(())
    });
    assert!(
        fed.is_some(),
        "statkit never stored the dashboard's traffic"
    );
}

#[test]
fn the_dashboard_renders_names_values_health_and_charts() {
    // A stats folder and a pipe folder of the test's own: one process, this
    // one, publishing through the statkit library.
    let files = Dir::new("dashboard-stats");
    let pipes = Dir::new("dashboard-pipes");
    let published = statkit::shm::Registry::publish(statkit::shm::Options {
        dir: files.path().to_owned(),
        program: "dashtest".into(),
        ..statkit::shm::Options::default()
    })
    .unwrap();
    published.counter("jobs_done", &[]).unwrap().add(17);
    let statkit = Statkit::start(&[
        "--flush-interval",
        "1",
        "--console=false",
        "--stats-dir",
        files.path().to_str().unwrap(),
        "--pipe-dir",
        pipes.path().to_str().unwrap(),
    ]);
    let http = statkit.http.expect("an HTTP address");
    let _traffic = Traffic::start(statkit.udp);
    wait_for_traffic(http);
    let dom = dump(http, "/?filter=dash.");
    // The filter came from the URL: four cards, the names and kinds.
    assert_eq!(dom.matches("<section class=\"card\"").count(), 4, "{dom}");
    for card in [
        "data-key=\"dash.req;env=prod\" data-kind=\"counter\"",
        "data-key=\"dash.load\" data-kind=\"gauge\"",
        "data-key=\"dash.lat\" data-kind=\"timer\"",
        "data-key=\"dash.users\" data-kind=\"set\"",
    ] {
        assert!(dom.contains(card), "no card {card} in:\n{dom}");
    }
    assert!(dom.contains("<h2>dash.req</h2>"), "{dom}");
    assert!(dom.contains("counter · env:prod"), "{dom}");
    // The newest flush's values: a gauge of 42, a set of two members, a
    // timer's p90.
    assert!(dom.contains("<div class=\"value\">42</div>"), "{dom}");
    assert!(dom.contains("<div class=\"value\">2</div>"), "{dom}");
    assert!(
        dom.contains("<div class=\"value\">70 ms p90</div>"),
        "{dom}"
    );
    // Every card drew a chart with points; the timer three lines.
    assert_eq!(dom.matches("<svg class=\"chart\"").count(), 4, "{dom}");
    assert!(!dom.contains("data-points=\"0\""), "{dom}");
    for field in ["rate", "value", "members", "median", "pct", "upper"] {
        let line = format!("data-field=\"{field}\" data-segment=\"0\"");
        assert!(dom.contains(&line), "no {field} line in:\n{dom}");
    }
    assert!(!dom.contains("points=\"\""), "an empty line in:\n{dom}");
    // Real axes: round ticks with the kind's unit (ms for a timer, /s for a
    // counter's rate), times along the bottom, and a readout of the newest
    // row's time and values under each chart.
    let lat = card(&dom, "dash.lat");
    let ticks = tick_labels(lat, "y");
    assert!(
        ticks.len() >= 3 && ticks.iter().all(|t| t.ends_with(" ms")),
        "timer ticks {ticks:?} in:\n{lat}"
    );
    assert!(ticks.contains(&"0 ms".to_owned()), "{ticks:?}");
    let rate = tick_labels(card(&dom, "dash.req;env=prod"), "y");
    assert!(
        rate.len() >= 3 && rate.iter().all(|t| t.ends_with("/s")),
        "counter ticks {rate:?}"
    );
    let times = tick_labels(lat, "x");
    assert!(
        !times.is_empty() && times.iter().all(|t| is_clock(t)),
        "time ticks {times:?} in:\n{lat}"
    );
    let load = card(&dom, "dash.load");
    assert!(
        load.contains("<div class=\"readout\" data-hover=\"false\"><time")
            && load.contains(">42</span></div>"),
        "no readout of the newest value in:\n{load}"
    );
    assert!(
        lat.contains(">p90 70 ms</span>") && lat.contains(">median "),
        "{lat}"
    );
    // The server's own health, read from /api/v1/health.
    assert!(dom.contains("<dt>status</dt><dd>up</dd>"), "{dom}");
    assert!(dom.contains("<dt>bad lines</dt><dd>0</dd>"), "{dom}");
    assert!(!dom.contains("<dt>packets</dt><dd>0</dd>"), "{dom}");
    // The process table: this test process, its program and its counter.
    assert!(dom.contains("data-processes=\"true\""), "{dom}");
    let row = format!(
        "<tr data-pid=\"{}\" data-format=\"statkit\" data-state=\"alive\"><td>{}</td><td>dashtest</td>",
        std::process::id(),
        std::process::id()
    );
    assert!(dom.contains(&row), "no process row {row} in:\n{dom}");
    assert!(dom.contains("jobs_done 17"), "{dom}");

    // A screenshot of the same page is a real PNG.
    let dir = Dir::new("chromium");
    let png = dir.path().join("dashboard.png");
    let mut shot = headless(&dir, Duration::from_secs(5));
    shot.arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,800")
        .arg(format!("http://{http}/?filter=dash."));
    let output = run_bounded(shot, Duration::from_secs(90));
    let bytes = std::fs::read(&png).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000);
}

/// Sends `line` every 100 ms for `seconds`.
fn send_for(to: SocketAddr, line: &str, seconds: u64) {
    for _ in 0..seconds * 10 {
        send_udp(to, &[line]);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The longest step between two rows of `gap.c`'s history, and its row
/// count.
fn gap_history(http: SocketAddr) -> Option<(u64, usize)> {
    let body = http_get(http, "/api/v1/history?kind=counter&name=gap.c", "").body;
    let history: serde_json::Value = serde_json::from_str(&body).ok()?;
    let t: Vec<u64> = history["t"]
        .as_array()?
        .iter()
        .filter_map(|t| t.as_u64())
        .collect();
    let widest = t.windows(2).map(|w| w[1] - w[0]).max()?;
    Some((widest, t.len()))
}

#[test]
fn every_series_is_reachable_in_natural_order_grouped_with_gaps_shown() {
    // Idle counters are deleted, so a counter that stops sending leaves
    // flushes without a row of it: a gap in its history.
    let statkit = Statkit::start(&[
        "--flush-interval",
        "1",
        "--console=false",
        "--delete-counters=true",
    ]);
    let http = statkit.http.expect("an HTTP address");
    // 60 gauges, more than two pages of cards; gauges stay without traffic.
    let gauges: Vec<String> = (1..=60).map(|i| format!("many.s.{i}:{i}|g")).collect();
    for chunk in gauges.chunks(20) {
        send_udp(statkit.udp, &[&chunk.join("\n")]);
    }
    send_udp(statkit.udp, &["other.one:1|g"]);
    // A counter for two seconds, five seconds of nothing, two seconds again.
    send_for(statkit.udp, "gap.c:1|c", 2);
    std::thread::sleep(Duration::from_secs(5));
    send_for(statkit.udp, "gap.c:1|c", 2);
    // The store holds both runs: rows on either side of a step of three
    // seconds or more (five without data, less the flush times' rounding).
    let stored = poll_until(util::TIMEOUT, || {
        let (widest, rows) = gap_history(http)?;
        let list = http_get(http, "/api/v1/metrics?filter=many.&limit=1", "").body;
        let list: serde_json::Value = serde_json::from_str(&list).ok()?;
        (widest >= 3 && rows >= 3 && list["matching"] == 60).then_some(())
    });
    assert!(
        stored.is_some(),
        "the store never held the gap and the gauges: {:?}",
        gap_history(http)
    );

    // The first page: 24 cards in natural order (many.s.2 before many.s.10),
    // in the group `many`, with a pager to the rest.
    let dom = dump(http, "/?filter=many.");
    let expected: Vec<String> = (1..=24).map(|i| format!("many.s.{i}")).collect();
    assert_eq!(card_keys(&dom), expected, "{dom}");
    assert!(dom.contains("page 1 of 3"), "no pager in:\n{dom}");
    assert!(
        dom.contains("<section class=\"group\" data-group=\"many\" data-collapsed=\"false\">"),
        "{dom}"
    );
    assert!(dom.contains("60 of "), "{dom}");
    // The last page, as a link names it: the rest, 49 to 60.
    let dom = dump(http, "/?filter=many.&page=3");
    let expected: Vec<String> = (49..=60).map(|i| format!("many.s.{i}")).collect();
    assert_eq!(card_keys(&dom), expected, "{dom}");
    assert!(dom.contains("page 3 of 3"), "{dom}");
    assert!(
        dom.contains("<span class=\"group-count\">60 series, 49–60 shown</span>"),
        "no continued group header in:\n{dom}"
    );
    // A search finds the 50th.
    let dom = dump(http, "/?filter=many.s.50");
    assert_eq!(card_keys(&dom), ["many.s.50"], "{dom}");
    assert!(dom.contains("<div class=\"value\">50</div>"), "{dom}");
    assert!(!dom.contains("class=\"pager\""), "{dom}");

    // Groups by the first dotted component, in natural order; a collapsed
    // group is a header with its count and no cards.
    let dom = dump(http, "/?collapse=many");
    let groups: Vec<&str> = dom
        .split("<section class=\"group\" data-group=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(groups, ["gap", "many", "other"], "{dom}");
    assert!(
        dom.contains("data-group=\"many\" data-collapsed=\"true\"><h2 class=\"group-head\"><button type=\"button\" data-toggle=\"many\" aria-expanded=\"false\">▸ many</button><span class=\"group-count\">60 series</span>"),
        "{dom}"
    );
    assert_eq!(card_keys(&dom), ["gap.c", "other.one"], "{dom}");

    // The gap: the counter's line is two segments, not one across it.
    let dom = dump(http, "/?filter=gap.");
    let gap = card(&dom, "gap.c");
    assert!(gap.contains("data-segments=\"2\""), "{gap}");
    assert_eq!(gap.matches("<polyline ").count(), 2, "{gap}");
    assert!(
        gap.contains("data-field=\"rate\" data-segment=\"0\"")
            && gap.contains("data-field=\"rate\" data-segment=\"1\""),
        "{gap}"
    );
}

/// The keys of the cards on screen, from the page's own DOM.
const CARD_KEYS: &str =
    "[...document.querySelectorAll('section.card')].map((c) => c.dataset.key).join(' ')";

#[test]
fn the_dashboard_answers_the_mouse_and_the_keyboard() {
    let statkit = Statkit::start(&[
        "--flush-interval",
        "1",
        "--console=false",
        "--delete-counters=true",
    ]);
    let http = statkit.http.expect("an HTTP address");
    let gauges: Vec<String> = (1..=60).map(|i| format!("many.s.{i}:{i}|g")).collect();
    for chunk in gauges.chunks(20) {
        send_udp(statkit.udp, &[&chunk.join("\n")]);
    }
    send_for(statkit.udp, "gap.c:1|c", 2);
    std::thread::sleep(Duration::from_secs(5));
    send_for(statkit.udp, "gap.c:1|c", 2);
    let stored = poll_until(util::TIMEOUT, || {
        let (widest, rows) = gap_history(http)?;
        (widest >= 3 && rows >= 3).then_some(())
    });
    assert!(stored.is_some(), "no gap stored: {:?}", gap_history(http));

    let mut browser = Browser::start();
    browser.open(&format!("http://{http}/?filter=many."));
    browser.wait_for("document.body.dataset.loaded === 'true'");
    // Hovering a chart shows the time and the value under the cursor.
    let readout = "document.querySelector('[data-key=\"many.s.7\"] .readout')";
    let box_ = browser.eval(
        "(() => { const svg = document.querySelector('[data-key=\"many.s.7\"] svg.chart'); \
         svg.scrollIntoView({block: 'center'}); const r = svg.getBoundingClientRect(); \
         return [r.left, r.top, r.width, r.height]; })()",
    );
    let (left, top, width, height) = (
        box_[0].as_f64().unwrap(),
        box_[1].as_f64().unwrap(),
        box_[2].as_f64().unwrap(),
        box_[3].as_f64().unwrap(),
    );
    browser.mouse("mouseMoved", left + width * 0.75, top + height / 2.0);
    assert_eq!(browser.eval(&format!("{readout}.dataset.hover")), "true");
    let time = browser.eval(&format!("{readout}.querySelector('time').textContent"));
    assert!(is_clock(time.as_str().unwrap()), "hover time {time}");
    assert_eq!(
        browser.eval(&format!(
            "{readout}.querySelector('[data-field=value]').textContent"
        )),
        "7"
    );
    assert_eq!(
        browser.eval("document.querySelector('[data-key=\"many.s.7\"] line.cursor').getAttribute('visibility')"),
        "visible"
    );
    // Leaving it shows the newest row again.
    browser.mouse("mouseMoved", 2.0, 2.0);
    assert_eq!(browser.eval(&format!("{readout}.dataset.hover")), "false");
    let newest = browser.eval(&format!("{readout}.querySelector('time').textContent"));
    assert!(newest.as_str().unwrap().starts_with("newest "), "{newest}");
    // The keyboard: a focused chart's left arrow steps back a row.
    browser.eval("document.querySelector('[data-key=\"many.s.7\"] svg.chart').focus()");
    browser.call(
        "Input.dispatchKeyEvent",
        json!({"type": "rawKeyDown", "key": "ArrowLeft", "code": "ArrowLeft", "windowsVirtualKeyCode": 37}),
    );
    assert_eq!(browser.eval(&format!("{readout}.dataset.hover")), "true");
    let time = browser.eval(&format!("{readout}.querySelector('time').textContent"));
    assert!(is_clock(time.as_str().unwrap()), "arrow key time {time}");
    assert_eq!(
        browser.eval(&format!(
            "{readout}.querySelector('[data-field=value]').textContent"
        )),
        "7"
    );

    // The pager: the next page holds 25 to 48, and the URL says so.
    browser.click("#pager button[data-page='2']");
    browser.wait_for("document.querySelectorAll('section.card').length === 24 && document.querySelector('section.card').dataset.key === 'many.s.25'");
    let keys = browser.eval(CARD_KEYS);
    let expected: Vec<String> = (25..=48).map(|i| format!("many.s.{i}")).collect();
    assert_eq!(keys, expected.join(" "));
    assert_eq!(browser.eval("location.search"), "?filter=many.&page=2");

    // Typing in the search box finds the 50th.
    browser
        .eval("(() => { const f = document.getElementById('filter'); f.focus(); f.select(); })()");
    browser.call("Input.insertText", json!({"text": "many.s.50"}));
    browser.wait_for(&format!("{CARD_KEYS} === 'many.s.50'"));
    assert_eq!(browser.eval("location.search"), "?filter=many.s.50");

    // Collapsing a group: its cards go, its header and count stay.
    browser.eval("(() => { const f = document.getElementById('filter'); f.select(); })()");
    browser.call("Input.insertText", json!({"text": "."}));
    browser.wait_for("document.querySelectorAll('section.group').length === 2");
    browser.click("button[data-toggle='gap']");
    browser.wait_for(
        "document.querySelector('section.group[data-group=\"gap\"]').dataset.collapsed === 'true'",
    );
    assert!(browser
        .eval("location.search")
        .as_str()
        .unwrap()
        .contains("collapse=gap"));
    let keys = browser.eval(CARD_KEYS);
    assert!(!keys.as_str().unwrap().contains("gap.c"), "{keys}");

    // Hovering inside the gap says there is no data there.
    browser.open(&format!("http://{http}/?filter=gap."));
    browser.wait_for("document.body.dataset.loaded === 'true'");
    let at = browser.eval(
        "(() => { const svg = document.querySelector('[data-key=\"gap.c\"] svg.chart'); \
         const end = svg.querySelector('[data-segment=\"0\"]').getAttribute('points').split(' ').pop().split(',')[0]; \
         const start = svg.querySelector('[data-segment=\"1\"]').getAttribute('points').split(' ')[0].split(',')[0]; \
         const r = svg.getBoundingClientRect(); \
         return [r.left + (Number(end) + Number(start)) / 2, r.top + r.height / 2]; })()",
    );
    browser.mouse(
        "mouseMoved",
        at[0].as_f64().unwrap(),
        at[1].as_f64().unwrap(),
    );
    let text = browser.eval("document.querySelector('[data-key=\"gap.c\"] .readout').textContent");
    assert!(text.as_str().unwrap().ends_with("no data"), "{text}");
}
