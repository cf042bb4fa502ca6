//! `statkit poll`: a vmstat-like table of per-interval changes, summed
//! over every process' file.
//!
//! A row holds, for each field, the sum over the files that have the label
//! `prefix + field`, minus the previous row's sum (the first row shows the
//! totals). A field no file has shows blank. Files are found afresh for
//! every row, so processes may come and go.

use std::path::PathBuf;

use crate::{discover, number, read_file, ReadError};

/// Width of a column.
const WIDTH: usize = 14;

/// The table's state between rows.
#[derive(Debug)]
pub struct Poller {
    labels: Vec<String>,
    fields: Vec<String>,
    paths: Vec<PathBuf>,
    previous: Vec<Option<f64>>,
}

impl Poller {
    /// A table of `fields` (labels after `prefix`) over `paths` (as for
    /// [`discover`]).
    pub fn new(prefix: &str, fields: Vec<String>, paths: Vec<PathBuf>) -> Poller {
        Poller {
            labels: fields.iter().map(|f| format!("{prefix}{f}")).collect(),
            previous: vec![None; fields.len()],
            fields,
            paths,
        }
    }

    /// The header line: the field names, cut and right-aligned to the
    /// columns.
    pub fn header(&self) -> String {
        let cells = self.fields.iter().map(|f| {
            let cut: String = f
                .chars()
                .rev()
                .take(WIDTH)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("{cut:>WIDTH$}")
        });
        cells.collect::<Vec<_>>().join(" ")
    }

    /// Reads every file and returns the next row, with the files that
    /// could not be read.
    pub fn row(&mut self) -> std::io::Result<(String, Vec<ReadError>)> {
        let sums = self.sums()?;
        let mut cells = Vec::with_capacity(sums.0.len());
        for (sum, previous) in sums.0.iter().zip(&mut self.previous) {
            let cell = match sum {
                Some(now) => format_number(now - previous.unwrap_or(0.0)),
                None => String::new(),
            };
            cells.push(format!("{cell:>WIDTH$}"));
            *previous = *sum;
        }
        Ok((cells.join(" "), sums.1))
    }

    fn sums(&self) -> std::io::Result<(Vec<Option<f64>>, Vec<ReadError>)> {
        let mut sums = vec![None; self.labels.len()];
        let mut errors = Vec::new();
        for path in discover(&self.paths)? {
            let file = match read_file(&path) {
                Ok(file) => file,
                Err(error) => {
                    errors.push(error);
                    continue;
                }
            };
            for stat in &file.stats {
                let Some(at) = self.labels.iter().position(|l| *l == stat.label) else {
                    continue;
                };
                if let Some(n) = number(&stat.value) {
                    *sums[at].get_or_insert(0.0) += n;
                }
            }
        }
        Ok((sums, errors))
    }
}

/// Whole numbers without a fraction, others with three decimals.
fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_whole_or_with_three_decimals() {
        assert_eq!(format_number(42.0), "42");
        assert_eq!(format_number(-3.0), "-3");
        assert_eq!(format_number(0.25), "0.250");
    }

    #[test]
    fn headers_keep_the_end_of_long_names() {
        let poller = Poller::new("", vec!["a".into(), "requests.status.500".into()], vec![]);
        assert_eq!(
            poller.header(),
            format!("{:>14} {:>14}", "a", "sts.status.500")
        );
    }
}
