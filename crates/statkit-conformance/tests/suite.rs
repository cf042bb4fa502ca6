//! The whole suite, in process: every case must give statkit's documented
//! answer with its own settings, and with etsy-strict settings either that
//! answer or etsy's documented one.

use std::path::{Path, PathBuf};

use statkit_conformance::in_process::{self, Profile};
use statkit_conformance::{judge, load_suite, Case, Verdict};

/// `conformance/` at the repository root.
fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance")
}

fn suite() -> Vec<Case> {
    load_suite(&suite_dir()).unwrap_or_else(|e| panic!("the suite does not load: {e}"))
}

#[test]
fn the_suite_has_at_least_150_cases() {
    let cases = suite();
    assert!(cases.len() >= 150, "only {} cases", cases.len());
}

#[test]
fn every_case_passes_in_process_with_default_settings() {
    let failures: Vec<String> = suite()
        .iter()
        .filter_map(|case| {
            let verdict = judge(case, &in_process::run(case, Profile::Default), None);
            (verdict != Verdict::Pass).then(|| verdict.line(&case.id))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn etsy_strict_settings_give_statkits_or_etsys_answer() {
    let failures: Vec<String> = suite()
        .iter()
        .filter_map(|case| {
            let verdict = judge(case, &in_process::run(case, Profile::EtsyStrict), None);
            matches!(verdict, Verdict::Fail(_) | Verdict::Skipped(_))
                .then(|| verdict.line(&case.id))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
