//! mmash's JSON routes on `statkit serve`'s HTTP port, over a stats folder
//! holding mmstats 0.8's own files (statkit-format's testdata), answering
//! as mmash did over the same files (the research samples), and over files
//! the statkit library writes in this test.

use std::path::Path;

use crate::util::{http_get, Statkit};
use serde_json::{json, Value};
use statkit_format::mmstats::{encode, MmValue};

fn mmstats_samples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../statkit-format/tests/testdata/mmstats")
}

/// A server whose stats folder holds copies of mmstats' sample files.
fn serve_samples(dir: &Path) -> Statkit {
    for entry in std::fs::read_dir(mmstats_samples()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "mmstats") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    serve(dir)
}

fn serve(dir: &Path) -> Statkit {
    let pipes = dir.join("no-pipes");
    Statkit::start(&[
        "--stats-dir",
        dir.to_str().unwrap(),
        "--pipe-dir",
        pipes.to_str().unwrap(),
    ])
}

fn get(server: &Statkit, path: &str) -> (u16, Value) {
    let answer = http_get(server.http.unwrap(), path, "");
    let body = serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", answer.body));
    (answer.status, body)
}

/// `GET path` must answer 200 with exactly `expected` (mmash's body).
fn same(server: &Statkit, path: &str, expected: &str) {
    let (status, body) = get(server, path);
    let expected: Value = serde_json::from_str(expected).unwrap();
    assert_eq!((status, &body), (200, &expected), "GET {path}");
}

#[test]
fn answers_as_mmash_did_over_its_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_samples(dir.path());
    // mmash's answers over the same files (mmash-responses.txt).
    same(
        &server,
        "/stats/",
        r#"{"stats":["dbl","ex.avg","ex.bool","ex.counter","ex.f32","ex.f64","ex.i16","ex.i32","ex.i8","ex.mavg","ex.org.python.version","ex.sf32","ex.sf64","ex.si64","ex.stext","ex.string","ex.su32","ex.su64","ex.sys.created","ex.sys.gid","ex.sys.pid","ex.sys.tid","ex.sys.uid","ex.timer","ex.u16","ex.u32","ex.u64","flag","hits","name","sys.pid","txt","u32"]}"#,
    );
    same(
        &server,
        "/stats/ex.sys",
        r#"{"ex.sys.created":[1795299463.152173],"ex.sys.gid":[0],"ex.sys.pid":[13740],"ex.sys.tid":[13740],"ex.sys.uid":[0]}"#,
    );
    same(&server, "/stats/ex.u3", r#"{"ex.u32":[7]}"#);
    same(&server, "/stats/ex.u32?aggr=avg", r#"{"ex.u32":7.0}"#);
    same(
        &server,
        "/stats/ex.sys.pid?aggr=one",
        r#"{"ex.sys.pid":13740}"#,
    );
    for aggr in ["min", "max", "sum"] {
        same(
            &server,
            &format!("/stats/ex.i?aggr={aggr}"),
            r#"{"ex.i16":-2,"ex.i32":-7,"ex.i8":-1}"#,
        );
    }
    same(
        &server,
        "/stats/ex.i?aggr=nonzero-avg",
        r#"{"ex.i16":-2.0,"ex.i32":-7.0,"ex.i8":-1.0}"#,
    );
    same(
        &server,
        "/stats/ex.i?aggr=bogus",
        r#"{"ex.i16":[-2],"ex.i32":[-7],"ex.i8":[-1]}"#,
    );
    same(&server, "/stats/hits?exact=1", r#"{"hits":[42]}"#);
    same(&server, "/stats/u?glob=one-u*", r#"{"u32":[7]}"#);
    // Summing text, and a glob out of the folder, are 400s as in mmash.
    assert_eq!(get(&server, "/stats/ex.s?aggr=sum").0, 400);
    assert_eq!(get(&server, "/stats/x?glob=../etc/*").0, 400);
    same(&server, "/files/one-u*", &files(dir.path(), &["one-uint"]));
    // mmash lists in glob order; this server in name order.
    let all = [
        "alltypes",
        "one-bool",
        "one-counter",
        "one-double",
        "one-statictext",
        "one-staticuint",
        "one-string",
        "one-uint",
    ];
    same(&server, "/files/", &files(dir.path(), &all));
    // statvent's /stats is still there.
    let (status, body) = get(&server, "/stats");
    assert_eq!(status, 200);
    assert!(body["stats"].is_object(), "{body}");
    let (status, body) = get(&server, "/nonexistent");
    assert_eq!(status, 404, "{body}");
}

fn files(dir: &Path, stems: &[&str]) -> String {
    let paths: Vec<String> = stems
        .iter()
        .map(|s| dir.join(format!("{s}.mmstats")).display().to_string())
        .collect();
    json!({ "files": paths }).to_string()
}

/// mmash's aggregation samples: two files, a.mmstats (web.req=10,
/// web.lat=0.0, web.busy=True) and b.mmstats (32, 4.0, False).
#[test]
fn aggregates_across_files_with_pythons_types() {
    let dir = tempfile::tempdir().unwrap();
    for (name, req, lat, busy) in [("a", 10, 0.0, true), ("b", 32, 4.0, false)] {
        let fields = [
            ("web.req".to_owned(), MmValue::U64(req)),
            ("web.lat".to_owned(), MmValue::F64(lat)),
            ("web.busy".to_owned(), MmValue::Bool(busy)),
        ];
        std::fs::write(dir.path().join(format!("{name}.mmstats")), encode(&fields)).unwrap();
    }
    let server = serve(dir.path());
    same(
        &server,
        "/stats/web.",
        r#"{"web.busy":[true,false],"web.lat":[0.0,4.0],"web.req":[10,32]}"#,
    );
    same(
        &server,
        "/stats/web.?aggr=sum",
        r#"{"web.busy":1,"web.lat":4.0,"web.req":42}"#,
    );
    same(
        &server,
        "/stats/web.?aggr=avg",
        r#"{"web.busy":0.5,"web.lat":2.0,"web.req":21.0}"#,
    );
    same(
        &server,
        "/stats/web.lat?aggr=nonzero-avg",
        r#"{"web.lat":4.0}"#,
    );
    same(
        &server,
        "/stats/web.lat?aggr=nonzero-min",
        r#"{"web.lat":4.0}"#,
    );
    same(&server, "/stats/web.req?aggr=max", r#"{"web.req":32}"#);
}

/// The statkit library's files answer too: counters add across processes.
#[test]
fn library_files_answer_alongside_mmstats_files() {
    let dir = tempfile::tempdir().unwrap();
    let registry = statkit::shm::Registry::publish(statkit::shm::Options {
        dir: dir.path().to_owned(),
        program: "shop".into(),
        ..statkit::shm::Options::default()
    })
    .unwrap();
    registry.counter("shop.orders", &[]).unwrap().add(5);
    registry.gauge("shop.queue", &[]).unwrap().set(2.5);
    let fields = [("shop.orders".to_owned(), MmValue::U32(7))];
    std::fs::write(dir.path().join("old.mmstats"), encode(&fields)).unwrap();
    let server = serve(dir.path());
    same(
        &server,
        "/stats/shop.orders?aggr=sum",
        r#"{"shop.orders":12}"#,
    );
    same(&server, "/stats/shop.q", r#"{"shop.queue":[2.5]}"#);
    let (_, listed) = get(&server, "/files/");
    assert_eq!(listed["files"].as_array().unwrap().len(), 2, "{listed}");
    drop(registry);
}
