//! The real databases the pushing sinks are tested against, each started
//! on a free loopback port in a scratch folder and stopped when dropped.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::util::{self, free_tcp_port, http_get, poll_until, system_program, Dir, Process};

/// A database process and where it answers HTTP.
pub struct Server {
    pub process: Process,
    pub address: SocketAddr,
    /// Where it keeps its data, removed when the server is dropped.
    _data: Dir,
}

impl Server {
    /// Spawns `command` and waits until `GET health` answers 2xx.
    fn start(name: &str, command: Command, port: u16, dir: Dir, health: &str) -> Server {
        let process = Process::spawn(name, command);
        let address: SocketAddr = ([127, 0, 0, 1], port).into();
        let up = poll_until(util::TIMEOUT, || {
            TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
            let status = http_get(address, health, "").status;
            (200..300).contains(&status).then_some(())
        });
        assert!(up.is_some(), "{name} did not start:\n{}", process.log());
        Server {
            process,
            address,
            _data: dir,
        }
    }

    /// Stops the server; gives back its data folder and port, to start it
    /// again on them.
    pub fn stop(mut self) -> (Dir, u16) {
        self.process.stop();
        (self._data, self.address.port())
    }

    /// `http://127.0.0.1:port` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

/// Debian's VictoriaMetrics (`$STATKIT_TEST_VICTORIA_METRICS`, else
/// `victoria-metrics`).
fn victoria_metrics_program() -> PathBuf {
    system_program("STATKIT_TEST_VICTORIA_METRICS", "victoria-metrics")
}

/// A single-node VictoriaMetrics keeping its data in `dir`, on `port`,
/// answering queries about samples as soon as they arrive.
pub fn victoria_metrics_in(dir: Dir, port: u16) -> Server {
    let mut command = Command::new(victoria_metrics_program());
    command
        .arg(format!(
            "-storageDataPath={}",
            dir.path().join("data").display()
        ))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        // Instant queries at "now" otherwise look 30 s into the past.
        .arg("-search.latencyOffset=0s")
        .arg("-search.disableCache");
    Server::start("victoria-metrics", command, port, dir, "/health")
}

/// A fresh VictoriaMetrics.
pub fn victoria_metrics() -> Server {
    victoria_metrics_in(Dir::new("victoria-metrics"), free_tcp_port())
}

/// Debian's Prometheus with its remote-write receiver on, scraping
/// nothing.
pub fn prometheus_receiver() -> Server {
    let dir = Dir::new("prometheus-rw");
    let config = dir.write("prometheus.yml", "global:\n  scrape_interval: 1m\n");
    let port = free_tcp_port();
    let mut command = Command::new(util::prometheus());
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver");
    Server::start("prometheus", command, port, dir, "/-/ready")
}

/// Debian's InfluxDB 1.x (`$STATKIT_TEST_INFLUXD`, else `influxd`), with
/// a database `statkit`.
pub fn influxdb() -> Server {
    let program = std::env::var_os("STATKIT_TEST_INFLUXD")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("influxd"), PathBuf::from);
    let dir = Dir::new("influxdb");
    let (port, rpc) = (free_tcp_port(), free_tcp_port());
    let data = dir.path().display().to_string();
    let config = dir.write(
        "influxdb.conf",
        &format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
             [meta]\n  dir = \"{data}/meta\"\n\
             [data]\n  dir = \"{data}/data\"\n  wal-dir = \"{data}/wal\"\n  query-log-enabled = false\n\
             [monitor]\n  store-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n"
        ),
    );
    let mut command = Command::new(&program);
    command.arg("run").arg("-config").arg(config);
    let server = Server::start("influxd", command, port, dir, "/ping");
    let created = http_post(server.address, "/query?q=CREATE+DATABASE+statkit");
    assert_eq!(
        created,
        200,
        "CREATE DATABASE failed:\n{}",
        server.process.log()
    );
    server
}

/// `POST path` with no body; the answer's status.
fn http_post(to: SocketAddr, path: &str) -> u16 {
    let url = format!("http://{to}{path}");
    match ureq::post(&url).send_empty() {
        Ok(answer) => answer.status().as_u16(),
        Err(ureq::Error::StatusCode(status)) => status,
        Err(e) => panic!("POST {url}: {e}"),
    }
}
