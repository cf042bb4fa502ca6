//! `statkit` as munin plug-ins, run by the real `munin-run` (Debian's
//! munin-node) from a plug-in directory of links and a plug-in
//! configuration of this test's own (never /etc/munin).

use std::os::unix::fs::symlink;
use std::process::{Command, Output};

use crate::util::{self, Dir, Statkit, TIMEOUT};

/// gstats' sample state (seeds.md 4.2), as the statkit hooks send it.
const SAMPLE: &[&str] = &[
    "statkit.requests.my_app.started:3|c",
    "statkit.requests.my_app.duration:10.222196579|ms\nstatkit.requests.my_app.duration:20.1909542084|ms",
    "statkit.requests.my_app.duration:30.2398204803|ms",
    "statkit.requests.other.App-1.started:1|c",
];

const REQUESTS_CONFIG: &str = "\
graph_title Gunicorn requests for my_app
graph_args --base 1000 -l 0
graph_vlabel requests / ${graph_period}
graph_category gunicorn
started.label started
started.min 0
started.type DERIVE
finished.label finished
finished.min 0
finished.type DERIVE
";

const TIME_CONFIG: &str = "\
graph_title Gunicorn request time for my_app
graph_args --base 1000 -l 0
graph_vlabel ms
graph_category gunicorn
avg_low.label low limit
avg_low.min 0
avg_low.type GAUGE
avg_low.draw AREA
avg_low.colour 00000000
avg_std.label standard deviation
avg_std.min 0
avg_std.type GAUGE
avg_std.draw STACK
avg.label average
avg.min 0
avg.type GAUGE
avg.draw LINE2
";

const TIME_VALUES: &str =
    "avg_low.value 12.0454745392\navg_std.value 8.17218255002\navg.value 20.2176570892\n";

/// A munin-node set-up in a scratch directory: `plugins/` with links to
/// the statkit binary, `conf/` telling them the admin address.
struct Munin {
    dir: Dir,
}

impl Munin {
    fn new(statkit: &Statkit, links: &[&str]) -> Munin {
        let dir = Dir::new("munin");
        let plugins = dir.path().join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        for link in links {
            symlink(util::statkit_bin(), plugins.join(link)).unwrap();
        }
        std::fs::create_dir(dir.path().join("conf")).unwrap();
        // As whoever runs the test: munin-run would otherwise switch to
        // `nobody`, which only root may do.
        let user = Command::new("id").arg("-un").output().unwrap();
        let user = String::from_utf8_lossy(&user.stdout).trim().to_owned();
        dir.write(
            "conf/statkit",
            &format!("[*]\nuser {user}\nenv.status_addr {}\n", statkit.admin),
        );
        dir.write("munin-node.conf", "log_level 4\nhost_name statkit-test\n");
        Munin { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(util::munin_run());
        let path = |p: &str| self.dir.path().join(p);
        command
            .arg("--config")
            .arg(path("munin-node.conf"))
            .arg("--servicedir")
            .arg(path("plugins"))
            .arg("--sconfdir")
            .arg(path("conf"))
            .args(args);
        util::run_bounded(command, TIMEOUT)
    }

    fn stdout(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "munin-run {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

fn fed() -> Statkit {
    let statkit = Statkit::start(&["--console=false", "--http", "off"]);
    util::send_udp(statkit.udp, SAMPLE);
    let deadline = std::time::Instant::now() + TIMEOUT;
    while !util::admin(statkit.admin, "requests").contains(r#""finished":3"#) {
        assert!(
            std::time::Instant::now() < deadline,
            "the sample never arrived"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    statkit
}

#[test]
fn gstats_plugin_names_under_munin_run() {
    let statkit = fed();
    let munin = Munin::new(
        &statkit,
        &[
            "gunicorn-requests_my_app",
            "gunicorn-request-time_my_app",
            "gunicorn-requests_other_app_1",
            "gunicorn-requests_",
        ],
    );
    assert_eq!(
        munin.stdout(&["gunicorn-requests_my_app", "config"]),
        REQUESTS_CONFIG
    );
    assert_eq!(
        munin.stdout(&["gunicorn-requests_my_app"]),
        "started.value 3\nfinished.value 3\n"
    );
    assert_eq!(
        munin.stdout(&["gunicorn-request-time_my_app", "config"]),
        TIME_CONFIG
    );
    assert_eq!(munin.stdout(&["gunicorn-request-time_my_app"]), TIME_VALUES);
    assert!(munin
        .stdout(&["gunicorn-requests_other_app_1", "config"])
        .starts_with("graph_title Gunicorn requests for other.App-1\n"));
    assert_eq!(
        munin.stdout(&["gunicorn-requests_other_app_1"]),
        "started.value 1\nfinished.value 0\n"
    );
    let unlinked = munin.run(&["gunicorn-requests_"]);
    assert!(!unlinked.status.success());
    assert_eq!(
        String::from_utf8_lossy(&unlinked.stdout),
        "please link as gunicorn-requests_<prefix>\n"
    );
}

#[test]
fn statkit_plugin_names_autoconf_suggest_and_multigraph() {
    let statkit = fed();
    let munin = Munin::new(
        &statkit,
        &[
            "statkit_requests_my_app",
            "statkit_request_time_my_app",
            "statkit_requests",
        ],
    );
    assert_eq!(munin.stdout(&["statkit_request_time_my_app"]), TIME_VALUES);
    assert_eq!(
        munin.stdout(&["statkit_requests_my_app", "autoconf"]),
        "yes\n"
    );
    assert_eq!(
        munin.stdout(&["statkit_requests_my_app", "suggest"]),
        "my_app\nother_app_1\n"
    );
    // munin-run tells plug-ins it reads multigraph output.
    let all = munin.stdout(&["statkit_requests"]);
    assert!(
        all.starts_with(&format!(
            "multigraph statkit_requests_my_app\nstarted.value 3\nfinished.value 3\n\
             multigraph statkit_request_time_my_app\n{TIME_VALUES}multigraph statkit_requests_other_app_1\n"
        )),
        "{all}"
    );
    let config = munin.stdout(&["statkit_requests", "config"]);
    assert!(config.starts_with(&format!(
        "multigraph statkit_requests_my_app\n{REQUESTS_CONFIG}"
    )));

    drop(statkit);
    let down = munin.stdout(&["statkit_requests_my_app", "autoconf"]);
    assert!(down.starts_with("no ("), "{down}");
}

/// The generic plug-in: series chosen by `env.metrics`, read from the HTTP
/// port, counters and timers' counts as DERIVE totals.
#[test]
fn metrics_plugin_graphs_chosen_series() {
    let statkit = Statkit::start(&["--console=false", "--flush-interval", "1"]);
    let http = statkit.http.expect("an HTTP address");
    util::send_udp(
        statkit.udp,
        &["shop.orders:5|c\nshop.orders:2|c\nshop.queue:3.5|g\nshop.lat:20|ms\nshop.lat:40|ms\nother.x:1|c"],
    );
    let stored = util::poll_until(TIMEOUT, || {
        let list = util::http_get(http, "/api/v1/metrics?filter=shop.", "").body;
        (list.contains(r#""total":7.0"#) && list.contains(r#""key":"shop.lat""#)).then_some(())
    });
    assert!(stored.is_some(), "the traffic never reached the store");
    let munin = Munin::new(&statkit, &["statkit_metrics_shop", "statkit_metrics_"]);
    munin.dir.write(
        "conf/metrics",
        &format!(
            "[statkit_metrics_*]\nenv.http_addr {http}\nenv.metrics shop.orders, shop.q* shop.lat\nenv.title Shop\n"
        ),
    );
    assert_eq!(
        munin.stdout(&["statkit_metrics_shop", "config"]),
        "graph_title Shop\ngraph_args --base 1000\ngraph_vlabel per ${graph_period} or value\n\
         graph_category statkit\n\
         shop_lat_count.label shop.lat values\nshop_lat_count.type DERIVE\nshop_lat_count.min 0\n\
         shop_lat_mean.label shop.lat mean ms\nshop_lat_mean.type GAUGE\n\
         shop_lat_p90.label shop.lat p90 ms\nshop_lat_p90.type GAUGE\n\
         shop_orders.label shop.orders\nshop_orders.type DERIVE\nshop_orders.min 0\n\
         shop_queue.label shop.queue\nshop_queue.type GAUGE\n"
    );
    let values = munin.stdout(&["statkit_metrics_shop"]);
    assert!(
        values.starts_with("shop_lat_count.value 2\n")
            && values.contains("shop_orders.value 7\n")
            && values.contains("shop_queue.value 3.5\n"),
        "{values}"
    );
    assert_eq!(munin.stdout(&["statkit_metrics_shop", "autoconf"]), "yes\n");
    let unlinked = munin.run(&["statkit_metrics_"]);
    assert!(!unlinked.status.success());
    assert_eq!(
        String::from_utf8_lossy(&unlinked.stdout),
        "please link as statkit_metrics_<name>\n"
    );
}
