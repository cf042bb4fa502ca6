//! Why a file could not be decoded. Every reader reports one of these with
//! the file's path and goes on to the next file.

/// The reason a stats file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The file ends before a part its header or records say is there.
    #[error("truncated: {what} needs {needed} bytes, the file has {len}")]
    Truncated {
        /// The part that did not fit.
        what: &'static str,
        /// Bytes needed up to the end of that part.
        needed: u64,
        /// The file's length.
        len: u64,
    },
    /// Neither a statkit file nor an mmstats v1 file.
    #[error("not a stats file (starts with {found:02x?})")]
    ForeignMagic {
        /// Up to the first 8 bytes of the file.
        found: Vec<u8>,
    },
    /// A statkit file of a version this reader does not know.
    #[error("unsupported format version {found} (this reader reads versions 1 to {known})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The version this reader reads.
        known: u16,
    },
    /// Written by a machine of the other byte order.
    #[error("wrong endianness: the file was written big-endian")]
    WrongEndianness,
    /// A header or entry field claims more than the file or the layout holds.
    #[error("size lying: {field} is {value}, more than the {limit} it may be")]
    SizeLying {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// The largest value the rest of the file allows.
        limit: u64,
    },
    /// A field holds a value the format does not define.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// A multi-word value was being written while it was copied; reading
    /// again shortly will succeed.
    #[error("torn: {label} was being written while it was read")]
    Torn {
        /// The metric.
        label: String,
    },
    /// A continuation file the main file names is missing, truncated or
    /// belongs to another chain.
    #[error("broken chain: continuation {segment}: {reason}")]
    BrokenChain {
        /// Its place in the chain (1 for `<file>.1`).
        segment: u32,
        /// What is wrong with it.
        reason: String,
    },
    /// The writer has created the file but not finished its header.
    #[error("not ready: the writer is still creating the file")]
    NotReady,
}
