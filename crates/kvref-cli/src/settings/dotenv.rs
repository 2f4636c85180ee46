//! Reading a .env file as written.
//!
//! kvref keeps its own reader because the maintained crates change what they read: dotenvy (and
//! dotenv before it) always expands `$VAR` and `${VAR}` in unquoted and double-quoted values, with
//! no way to turn that off, so `PASSWORD=pa$$word` would be checked as something the file does not
//! say. A check must see the file as written.

use serde_json::{Map, Value};

/// Parses a .env file: `NAME=value` lines, optional `export `, `#` comments, values unquoted
/// (an inline ` #` starts a comment), in single quotes (literal) or double quotes (`\n`, `\t`,
/// `\"`, `\\` escapes; may span lines). No variable expansion: a check must see the file as
/// written. On error, the 1-based line number.
pub(super) fn parse_dotenv(text: &str) -> Result<Value, usize> {
    let mut map = Map::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let line_no = index + 1;
        let line = raw.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let (name, rest) = line.split_once('=').ok_or(line_no)?;
        let name = name.trim();
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid_name {
            return Err(line_no);
        }
        let rest = rest.trim_start();
        let value = if let Some(body) = rest.strip_prefix('\'') {
            let end = body.find('\'').ok_or(line_no)?;
            trailing_comment_only(&body[end + 1..], line_no)?;
            body[..end].to_owned()
        } else if let Some(body) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut current = body.to_owned();
            loop {
                match unescape_until_quote(&current, &mut value) {
                    Some(after) => {
                        trailing_comment_only(&current[after..], line_no)?;
                        break;
                    }
                    None => {
                        // The quoted value continues on the next line.
                        let (_, next) = lines.next().ok_or(line_no)?;
                        value.push('\n');
                        current = next.to_owned();
                    }
                }
            }
            value
        } else {
            let end = rest.find(" #").unwrap_or(rest.len());
            rest[..end].trim_end().to_owned()
        };
        map.insert(name.to_owned(), Value::String(value));
    }
    Ok(Value::Object(map))
}

/// Appends the unescaped text of `s` up to an unescaped `"` to `out`; returns the byte offset just
/// after that quote, or `None` when the line ends first.
fn unescape_until_quote(s: &str, out: &mut String) -> Option<usize> {
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some(i + 1),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, other)) => out.push(other),
                None => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    None
}

fn trailing_comment_only(rest: &str, line_no: usize) -> Result<(), usize> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(line_no)
    }
}
