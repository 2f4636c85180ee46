//! The limits a settings file must keep before any parser sees it. `kvref check` runs in CI on
//! files that arrive in pull requests, so a file must not be able to exhaust memory or CPU: it
//! must be a regular file (a symlink to one is fine; `/dev/zero`, a FIFO or a directory is not),
//! at most [`MAX_FILE_BYTES`] long, and a YAML file's flow collections (`[`, `{`) at most
//! [`MAX_FLOW_DEPTH`] deep (libyaml's scanner is quadratic in that depth).

use std::io::Read;
use std::path::Path;

/// The largest settings file read: far above any real one.
pub(crate) const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The deepest YAML flow nesting accepted; real settings nest a few levels.
pub(crate) const MAX_FLOW_DEPTH: usize = 64;

/// Why a file was refused before parsing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LimitError {
    /// Not a regular file; says what it is.
    NotAFile(&'static str),
    /// Longer than [`MAX_FILE_BYTES`].
    TooLarge,
    /// The file could not be opened or read.
    Io(String),
}

/// Reads `path` as UTF-8 text within the limits.
pub(crate) fn read_text(path: &Path) -> Result<String, LimitError> {
    // Checked before opening: opening a FIFO for reading would wait for a writer.
    let metadata = std::fs::metadata(path).map_err(|e| LimitError::Io(e.to_string()))?;
    check_kind(&metadata)?;
    let file = std::fs::File::open(path).map_err(|e| LimitError::Io(e.to_string()))?;
    // And again on the opened file, in case the path was swapped in between.
    let metadata = file.metadata().map_err(|e| LimitError::Io(e.to_string()))?;
    check_kind(&metadata)?;
    if metadata.len() > MAX_FILE_BYTES {
        return Err(LimitError::TooLarge);
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| LimitError::Io(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LimitError::TooLarge);
    }
    String::from_utf8(bytes)
        .map_err(|_| LimitError::Io("stream did not contain valid UTF-8".into()))
}

fn check_kind(metadata: &std::fs::Metadata) -> Result<(), LimitError> {
    let kind = metadata.file_type();
    if kind.is_file() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Err(LimitError::NotAFile("a FIFO (named pipe)"));
        }
        if kind.is_char_device() || kind.is_block_device() {
            return Err(LimitError::NotAFile("a device"));
        }
        if kind.is_socket() {
            return Err(LimitError::NotAFile("a socket"));
        }
    }
    if kind.is_dir() {
        return Err(LimitError::NotAFile("a directory"));
    }
    Err(LimitError::NotAFile("not a regular file"))
}

/// The deepest nesting of YAML flow collections in `text`, stopping early once past `limit`.
///
/// Brackets inside quoted scalars and comments do not count. A quote opens a quoted scalar only
/// where a scalar can start (after indentation, `:`, `-`, `?`, `,`, `[` or `{`), as in YAML; a
/// quote elsewhere is part of a plain scalar (`it's`).
pub(crate) fn yaml_flow_depth(text: &str, limit: usize) -> usize {
    let scalar_can_start = |c: char| matches!(c, '\n' | ':' | '-' | '?' | ',' | '[' | '{');
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut quote: Option<char> = None;
    // The last character on this line that was not blank ('\n' at a line start), and whether
    // the character just before was blank (a comment's `#` needs one).
    let mut last = '\n';
    let mut blank = true;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' && q == '"' {
                chars.next();
            } else if c == q {
                quote = None;
                last = c;
                blank = false;
            }
            continue;
        }
        match c {
            '#' if blank => {
                // A comment runs to the end of the line.
                chars.by_ref().find(|&c| c == '\n');
                last = '\n';
                blank = true;
                continue;
            }
            '"' | '\'' if scalar_can_start(last) => {
                quote = Some(c);
                continue;
            }
            '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > limit {
                    return deepest;
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        match c {
            '\n' => {
                last = '\n';
                blank = true;
            }
            ' ' | '\t' | '\r' => blank = true,
            c => {
                last = c;
                blank = false;
            }
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_depth_counts_brackets_outside_quotes_and_comments() {
        assert_eq!(yaml_flow_depth("a: [[1], {b: [2]}]", 64), 3);
        assert_eq!(yaml_flow_depth("a: \"[[[[\"\nb: '{{{'", 64), 0);
        assert_eq!(yaml_flow_depth("a: x # [[[[\nb: [1]", 64), 1);
        assert_eq!(yaml_flow_depth("a: \"\\\"[[[\"", 64), 0);
        // A quote inside a plain scalar opens nothing.
        assert_eq!(yaml_flow_depth("a: it's [[[", 64), 3);
        // Quoted closers do not hide depth.
        assert_eq!(yaml_flow_depth("a: [\"]\", [\"]\", [\"]\"]]]", 64), 3);
        assert_eq!(
            yaml_flow_depth(&format!("a: {}", "[".repeat(100_000)), 64),
            65
        );
    }
}
