//! Errors that say what was being done, and keep the original as their source.

use std::error::Error;
use std::fmt;
use std::io;

/// The text of an `io::Error` without std's "(os error N)" suffix and with a
/// lowercase first letter, to read well after a colon.
pub(crate) fn describe(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    };
    // A first word with capitals after its first letter is an acronym and
    // keeps its case: Wine's "OS Error 10057 ...", wasi-libc's "I/O error".
    let first_word = text.split_whitespace().next().unwrap_or_default();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if !first_word.chars().skip(1).any(char::is_uppercase) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text,
    }
}

/// Wraps `err` with what was being done, e.g. `binding 127.0.0.1:9000:
/// address already in use`. The result has the same kind, and the original
/// error (with its `raw_os_error`) is its `source()`.
pub(crate) fn with_context(what: impl Into<String>, err: io::Error) -> io::Error {
    io::Error::new(
        err.kind(),
        Contextual {
            what: what.into(),
            source: err,
        },
    )
}

#[derive(Debug)]
struct Contextual {
    what: String,
    source: io::Error,
}

impl fmt::Display for Contextual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, describe(&self.source))
    }
}

impl Error for Contextual {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use io::ErrorKind;

    #[test]
    fn describe_drops_os_error_suffix_and_lowercases() {
        let err = io::Error::new(ErrorKind::AddrInUse, "Address already in use (os error 98)");
        assert_eq!(describe(&err), "address already in use");
        let err = io::Error::other("plain");
        assert_eq!(describe(&err), "plain");
        let err = io::Error::other(
            "OS Error 10057 (FormatMessageW() returned error 317) (os error 10057)",
        );
        assert_eq!(
            describe(&err),
            "OS Error 10057 (FormatMessageW() returned error 317)"
        );
        let err = io::Error::other("I/O error (os error 29)");
        assert_eq!(describe(&err), "I/O error");
        let err = io::Error::other("A connection was aborted");
        assert_eq!(describe(&err), "a connection was aborted");
    }

    #[test]
    fn context_keeps_kind_and_the_original_error_as_source() {
        let original = io::Error::from(ErrorKind::AddrInUse);
        let shown = describe(&original);
        let err = with_context("binding 127.0.0.1:9000", original);
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        assert_eq!(err.to_string(), format!("binding 127.0.0.1:9000: {shown}"));
        let source = err
            .get_ref()
            .and_then(|inner| inner.source())
            .and_then(|source| source.downcast_ref::<io::Error>())
            .expect("the original error is the source");
        assert_eq!(source.kind(), ErrorKind::AddrInUse);
    }

    #[cfg(unix)]
    #[test]
    fn context_keeps_the_os_error_code_in_the_source() {
        let err = with_context("accepting", io::Error::from_raw_os_error(libc::EMFILE));
        let source = err
            .get_ref()
            .and_then(|inner| inner.source())
            .and_then(|source| source.downcast_ref::<io::Error>())
            .unwrap();
        assert_eq!(source.raw_os_error(), Some(libc::EMFILE));
    }
}
