//! The reader layer over a folder built from the fuzz input: files whose
//! bytes come from the input (statkit files with patched headers, mmstats
//! files, raw bytes), FIFOs, links (to each other, to a folder, in loops),
//! hard links that make a chain point back at its main file, folders and
//! truncations at the names readers open. `discover`, `read_file_with`,
//! `liveness`, slurp's text and JSON and `clean` run over it for real.
//!
//! A bug is any panic, a hang (libFuzzer's `-timeout`: a FIFO opened for
//! reading that blocks), a file read past the limits, or `clean` writing
//! outside the folder.

#![no_main]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use statkit_format::layout::header;
use statkit_format::{encode_with, Description, Identity, Stat, Value};
use statkit_scan::{discover, liveness, read_file_with, render, Limits};

/// The names the input can put things at: a main file, its chain, another
/// program's files, mmstats names, a retired totals file, clean's lock.
const NAMES: [&str; 10] = [
    "web-1.statkit",
    "web-1.statkit.1",
    "web-1.statkit.2",
    "web-1.statkit.3",
    "db-2.statkit",
    "x.mmstats",
    "mmstats-y",
    "web.retired.statkit",
    ".statkit-clean.lock",
    "web.retired.tmp-1",
];

/// Small limits, so that "read past the limits" is easy to reach.
const LIMITS: Limits = Limits {
    max_file_len: 1 << 20,
    max_used_bytes: 64 * 1024,
    max_blocks: 64,
    max_mmstats_bytes: 16 * 1024,
};

/// A file outside the folder that links point at: nothing may change it.
fn outside() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("statkit-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("folder")).expect("fuzz folder");
        std::fs::write(dir.join("precious"), b"precious").expect("outside file");
        dir
    })
}

/// The input, read a byte at a time; zeros once it is used up.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        self.0 = rest;
        first
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }

    fn name(&mut self) -> &'static str {
        NAMES[usize::from(self.byte()) % NAMES.len()]
    }
}

/// A real statkit file of the web-1 chain (segment `segment`), with a
/// description, then bytes of the input written over its header fields.
fn statkit_file(input: &mut Input<'_>, segment: u32) -> Vec<u8> {
    let identity = Identity {
        pid: 1,
        start_time: 7,
        created_ns: 9,
        program: "web".into(),
        retired: false,
        piped: false,
    };
    let mut stats = vec![Stat {
        label: "requests".into(),
        value: Value::Counter(u64::from(input.byte())),
    }];
    if input.byte() % 2 == 0 {
        stats.push(Stat {
            label: "latency".into(),
            value: Value::Histogram(statkit_format::Histogram::default()),
        });
    }
    // A description of `requests` (help text from the input), as the
    // `metrics` recorder writes, whose section the overwrites below move.
    let help = String::from_utf8_lossy(&[input.byte(), input.byte()]).into_owned();
    let described: Vec<Description> = Description::new("requests", "count", &help)
        .into_iter()
        .collect();
    let mut bytes = encode_with(&identity, &stats, &described).unwrap_or_default();
    let fields = [
        header::SEGMENTS,
        header::SEGMENT,
        header::ENTRIES,
        header::BLOCKS,
        header::SLOTS_USED,
        header::CAPACITY,
        header::BLOCK_SIZE,
        header::BLOCKS_OFFSET,
        header::DESCRIPTIONS_OFFSET,
        header::DESCRIPTIONS_SIZE,
        header::DESCRIPTIONS_USED,
    ];
    if bytes.len() > header::SEGMENT + 4 {
        bytes[header::SEGMENT..header::SEGMENT + 4].copy_from_slice(&segment.to_le_bytes());
    }
    for _ in 0..input.byte() % 4 {
        let at = fields[usize::from(input.byte()) % fields.len()];
        let value = u32::from_le_bytes([input.byte(), input.byte(), input.byte(), input.byte()]);
        if let Some(slot) = bytes.get_mut(at..at + 4) {
            slot.copy_from_slice(&value.to_le_bytes());
        }
    }
    bytes
}

fn mkfifo(path: &Path) {
    if let Ok(c) = CString::new(path.as_os_str().as_bytes()) {
        // SAFETY: a valid NUL-terminated path.
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    }
}

/// Makes the folder the input describes, from nothing.
fn build(dir: &Path, input: &mut Input<'_>) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("fuzz folder");
    for _ in 0..input.byte() % 12 {
        let op = input.byte();
        let name = input.name();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        match op % 9 {
            0 | 1 => {
                let segment = name
                    .rsplit('.')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let bytes = statkit_file(input, segment);
                let _ = std::fs::write(&path, bytes);
            }
            2 => {
                let len = usize::from(input.byte()) * 4;
                let mut bytes = input.bytes(len).to_vec();
                if op & 0x80 != 0 {
                    bytes.insert(0, 1); // an mmstats version byte
                }
                let _ = std::fs::write(&path, bytes);
            }
            3 => mkfifo(&path),
            4 => {
                let target = match input.byte() % 4 {
                    0 => outside().join("precious"),
                    1 => outside().join("folder"),
                    // Links among the folder's names, loops included.
                    _ => PathBuf::from(input.name()),
                };
                let _ = std::os::unix::fs::symlink(target, &path);
            }
            5 => {
                // A chain that points back at itself.
                let _ = std::fs::hard_link(dir.join(input.name()), &path);
            }
            6 => {
                let _ = std::fs::create_dir(&path);
            }
            7 => {
                // Cut short (or made long and sparse) by its owner.
                let len = u64::from(input.byte()) * 97 + u64::from(input.byte()) * 65_536;
                if let Ok(file) = std::fs::OpenOptions::new().write(true).open(&path) {
                    let _ = file.set_len(len);
                }
            }
            _ => {
                let _ = std::fs::write(&path, b"");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let dir = outside().join("stats");
    build(&dir, &mut input);
    let paths = discover(std::slice::from_ref(&dir)).unwrap_or_default();
    let mut named: Vec<PathBuf> = NAMES.iter().map(|n| dir.join(n)).collect();
    named.extend(paths);
    let mut files = Vec::new();
    for path in &named {
        match read_file_with(path, &LIMITS) {
            Ok(file) => {
                let _ = liveness(&file);
                files.push((path.clone(), file));
            }
            Err(error) => {
                let _ = (error.path(), error.is_over_limit(), error.to_string());
            }
        }
    }
    let mut text = Vec::new();
    for (path, file) in &files {
        let _ = render::text(&mut text, path, file);
        let _ = render::json_file(path, file);
    }
    if input.byte() % 4 == 0 {
        let _ = statkit_scan::clean(std::slice::from_ref(&dir), false);
    }
    assert_eq!(
        std::fs::read(outside().join("precious")).ok().as_deref(),
        Some(&b"precious"[..]),
        "a file outside the folder changed"
    );
    assert_eq!(
        std::fs::read_dir(outside().join("folder"))
            .map(|d| d.count())
            .ok(),
        Some(0),
        "something was written into a folder a link points at"
    );
});
