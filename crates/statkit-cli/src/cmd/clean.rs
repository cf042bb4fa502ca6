//! `statkit clean`: removes the stats files of dead processes, folding
//! their counters and histograms into per-program retired totals first
//! (see `statkit_scan::clean`).
//!
//! When it found no file, stderr says where it looked and what each folder
//! holds; at a terminal it says so even when it found some.

use std::path::PathBuf;
use std::process::ExitCode;

use statkit_scan::Action;

use super::folders;

#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// Say what would be removed, change nothing.
    #[arg(long)]
    dry_run: bool,

    /// Stats files or folders (default: as for `statkit slurp`).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(args: CleanArgs) -> anyhow::Result<ExitCode> {
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let (mut removed, mut alive, mut kept, mut failed) = (0, 0, 0, 0);
    for action in statkit_scan::clean(&args.paths, args.dry_run)? {
        match action {
            Action::Removed { path, pid, retired } => {
                removed += 1;
                match retired {
                    Some(retired) => println!(
                        "{verb} {} (pid {pid} is gone; totals kept in {})",
                        path.display(),
                        retired.display()
                    ),
                    None => println!("{verb} {} (pid {pid} is gone)", path.display()),
                }
            }
            Action::Alive { .. } => alive += 1,
            Action::Kept { .. } => kept += 1,
            Action::Invalid(error) => {
                failed += 1;
                eprintln!("statkit clean: skipped {error}");
            }
            Action::Failed { path, error } => {
                failed += 1;
                eprintln!("statkit clean: cannot remove {}: {error}", path.display());
            }
        }
    }
    println!("{verb} {removed}, {alive} alive, {kept} kept, {failed} skipped");
    let looked = folders::stats_folders(&args.paths);
    let found = removed + alive + kept + failed;
    if found == 0 && !looked.is_empty() {
        folders::report("clean", "found no stats file; it looked in:", &looked);
    } else if folders::for_a_person() && !looked.is_empty() {
        folders::report("clean", "looked in:", &looked);
    }
    if found > 0 && removed == 0 && alive > 0 && kept == 0 && failed == 0 {
        eprintln!("statkit clean: nothing to remove: every file's process still runs");
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
