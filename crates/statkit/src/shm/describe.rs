//! Help texts and units, written to the stats file's descriptions section
//! (`statkit_format::describe`) so every reader sees them.
//!
//! A description belongs to a metric name, tags aside, and may come
//! before the metric or after it. Records are only appended: describing a
//! name again with other words appends a record that replaces the earlier
//! for readers; describing it again with the same words writes nothing.

use std::collections::HashMap;

use statkit_format::layout::header;
use statkit_format::Description;

use super::{RegisterError, Registry};

/// What the registry wrote to its file's section.
#[derive(Debug, Default)]
pub(super) struct Written {
    /// The current description of each name.
    by_name: HashMap<String, Description>,
    /// Bytes of the section in use.
    used: u32,
}

impl Registry {
    /// Describes metric `name` (without tags): its `unit` (`seconds`,
    /// `bytes`, ...; empty for none) and `help` text, written to the stats
    /// file for readers (`statkit slurp --json`, `/metrics`' `# HELP`).
    ///
    /// Refused past the format's limits (`statkit_format::describe`:
    /// 1,024 bytes of help, 64 of unit) or when the file's section
    /// ([`Options::descriptions`](super::Options)) is full.
    pub fn describe(&self, name: &str, unit: &str, help: &str) -> Result<(), RegisterError> {
        let description = Description::new(name, unit, help)?;
        let mut state = self.inner.lock_state();
        let written = &mut state.descriptions;
        if written.by_name.get(name) == Some(&description) {
            return Ok(());
        }
        let storage = &self.inner.storage;
        let record = description.encode();
        let end = u32::try_from(record.len())
            .ok()
            .and_then(|len| written.used.checked_add(len))
            .filter(|&end| end <= storage.layout().descriptions)
            .ok_or_else(|| RegisterError::DescriptionsFull {
                name: name.to_owned(),
            })?;
        // The record first, then the count that makes readers see it.
        storage.write_description(written.used, &record);
        storage.publish(0, header::DESCRIPTIONS_USED, end);
        written.used = end;
        written.by_name.insert(name.to_owned(), description);
        Ok(())
    }

    /// The help text and unit metric `name` was last described with.
    pub fn description(&self, name: &str) -> Option<Description> {
        self.inner
            .lock_state()
            .descriptions
            .by_name
            .get(name)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use statkit_format::describe::{HELP_MAX, RECORD_HEAD};

    use super::*;
    use crate::shm::Options;

    fn registry(descriptions: u32) -> Registry {
        Registry::in_memory(Options {
            descriptions,
            ..Options::default()
        })
        .unwrap()
    }

    #[test]
    fn a_description_before_or_after_its_metric_is_kept() {
        let registry = registry(4096);
        registry.describe("early", "", "described first").unwrap();
        registry.counter("early", &[("k", "v")]).unwrap();
        registry.gauge("late", &[]).unwrap();
        registry
            .describe("late", "bytes", "described after")
            .unwrap();
        assert_eq!(
            registry.description("early").unwrap().help,
            "described first"
        );
        assert_eq!(registry.description("late").unwrap().unit, "bytes");
        assert_eq!(registry.description("other"), None);
    }

    #[test]
    fn a_full_section_and_limits_are_refused() {
        // Room for exactly one 16-byte record.
        let registry = registry(16);
        registry.describe("a", "", "").unwrap();
        registry.describe("a", "", "").unwrap();
        assert_eq!(
            registry.describe("b", "", ""),
            Err(RegisterError::DescriptionsFull { name: "b".into() })
        );
        assert!(registry
            .describe("c", "", &"h".repeat(HELP_MAX + 1))
            .is_err());
        assert_eq!(registry.description("b"), None);
        assert_eq!(
            Description::new("a", "", "").unwrap().encode().len(),
            2 * RECORD_HEAD
        );
    }
}
