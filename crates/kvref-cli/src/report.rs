//! The report of `kvref check`: one row per reference, as a terminal table or as JSON.
//!
//! A row holds what an operator needs to fix a reference (where it is, what it points at, what
//! went wrong, the service's own error code, the fix) and never a secret value: only the
//! reference's canonical form, or, for a malformed one, its raw text (which is not a secret: it
//! is what failed to parse as a reference).

use kvref::ResolveStatus;
use serde::{Serialize, Serializer};

/// One reference found in the settings and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Row {
    pub(crate) key: String,
    pub(crate) source: String,
    pub(crate) reference: Option<String>,
    pub(crate) vault: Option<String>,
    pub(crate) secret: Option<String>,
    pub(crate) version: Option<String>,
    #[serde(serialize_with = "status_name")]
    pub(crate) status: ResolveStatus,
    pub(crate) resolved_version: Option<String>,
    pub(crate) error_code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) fix: Option<String>,
}

impl Row {
    pub(crate) fn is_resolved(&self) -> bool {
        self.status.is_resolved()
    }
}

/// A status is printed (and serialised) by its name, e.g. `"SecretNotFound"`.
fn status_name<S: Serializer>(status: &ResolveStatus, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(status.as_str())
}

/// Counts over all rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Summary {
    pub(crate) total: usize,
    pub(crate) resolved: usize,
    pub(crate) failed: usize,
}

/// The whole report, serialised as `kvref check --format json` prints it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) references: Vec<Row>,
    pub(crate) summary: Summary,
}

impl Report {
    pub(crate) fn new(references: Vec<Row>) -> Report {
        let resolved = references.iter().filter(|r| r.is_resolved()).count();
        Report {
            summary: Summary {
                total: references.len(),
                resolved,
                failed: references.len() - resolved,
            },
            references,
        }
    }

    /// Whether every reference resolved (an empty report counts as success).
    pub(crate) fn all_resolved(&self) -> bool {
        self.summary.failed == 0
    }

    pub(crate) fn to_json(&self) -> String {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// An aligned table, one row per reference, then a summary line.
    pub(crate) fn to_table(&self) -> String {
        const HEADERS: [&str; 9] = [
            "KEY", "SOURCE", "VAULT", "SECRET", "VERSION", "STATUS", "RESOLVED", "CODE", "FIX",
        ];
        let cell = |value: &Option<String>| one_line(value.as_deref().unwrap_or("-"));
        let rows: Vec<[String; 9]> = self
            .references
            .iter()
            .map(|r| {
                [
                    one_line(&r.key),
                    one_line(&r.source),
                    cell(&r.vault),
                    cell(&r.secret),
                    match (&r.version, &r.reference) {
                        (Some(version), _) => one_line(version),
                        (None, Some(_)) => "(latest)".to_owned(),
                        // A malformed reference asks for no version at all.
                        (None, None) => "-".to_owned(),
                    },
                    r.status.as_str().to_owned(),
                    cell(&r.resolved_version),
                    cell(&r.error_code),
                    cell(&r.fix),
                ]
            })
            .collect();
        let mut widths = HEADERS.map(|h| h.chars().count());
        for row in &rows {
            for (width, text) in widths.iter_mut().zip(row) {
                *width = (*width).max(text.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let last = cells.len() - 1;
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                text.push_str(cell);
                if i < last {
                    let pad = widths[i] - cell.chars().count() + 2;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        if !rows.is_empty() {
            line(&HEADERS.map(str::to_owned));
            for row in &rows {
                line(row);
            }
            out.push('\n');
        }
        // What the service said, first line only, for the rows that failed: the table keeps
        // one line per reference, and the JSON report has the whole message.
        let details: Vec<String> = self
            .references
            .iter()
            .filter(|r| !r.is_resolved())
            .filter_map(|r| {
                let first = one_line(r.message.as_deref()?.lines().next()?);
                Some(format!(
                    "  - {} ({}): {first}\n",
                    one_line(&r.key),
                    one_line(&r.source)
                ))
            })
            .collect();
        if !details.is_empty() {
            out.push_str("Details:\n");
            details.iter().for_each(|d| out.push_str(d));
            out.push('\n');
        }
        let Summary {
            total,
            resolved,
            failed,
        } = self.summary;
        let noun = if total == 1 {
            "reference"
        } else {
            "references"
        };
        out.push_str(&format!(
            "{total} {noun}: {resolved} resolved, {failed} failed\n"
        ));
        out
    }
}

/// A cell must stay on one line for the table to stay readable, and must not drive the
/// terminal: whitespace runs become one space, and any other control character (ANSI `ESC`,
/// bidirectional overrides) is shown escaped, as `\u{1b}`.
fn one_line(text: &str) -> String {
    let spaced = text.split_whitespace().collect::<Vec<_>>().join(" ");
    kvref::transport::sanitize::printable(&spaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: ResolveStatus) -> Row {
        Row {
            key: String::new(),
            source: String::new(),
            reference: None,
            vault: None,
            secret: None,
            version: None,
            status,
            resolved_version: None,
            error_code: None,
            message: None,
            fix: None,
        }
    }

    fn rows() -> Vec<Row> {
        vec![
            Row {
                key: "db.password".into(),
                source: "settings.toml".into(),
                reference: Some(
                    "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db)"
                        .into(),
                ),
                vault: Some("myvault".into()),
                secret: Some("Db".into()),
                resolved_version: Some("0123456789abcdef0123456789abcdef".into()),
                ..row(ResolveStatus::Resolved)
            },
            Row {
                key: "api.key".into(),
                source: "env:APP_API__KEY".into(),
                vault: Some("myvault".into()),
                secret: Some("Missing".into()),
                version: Some("fedcba9876543210fedcba9876543210".into()),
                error_code: Some("SecretNotFound".into()),
                message: Some("not found".into()),
                fix: Some("Check the secret name\nand the vault.".into()),
                ..row(ResolveStatus::SecretNotFound)
            },
        ]
    }

    #[test]
    fn summary_counts() {
        let report = Report::new(rows());
        assert_eq!(
            report.summary,
            Summary {
                total: 2,
                resolved: 1,
                failed: 1
            }
        );
        assert!(!report.all_resolved());
        assert!(Report::new(Vec::new()).all_resolved());
    }

    #[test]
    fn json_has_every_field_with_nulls() {
        let json: serde_json::Value = serde_json::from_str(&Report::new(rows()).to_json()).unwrap();
        let first = json["references"][0].as_object().unwrap();
        let fields: Vec<&str> = first.keys().map(String::as_str).collect();
        for name in [
            "key",
            "source",
            "reference",
            "vault",
            "secret",
            "version",
            "status",
            "resolved_version",
            "error_code",
            "message",
            "fix",
        ] {
            assert!(fields.contains(&name), "{name}");
        }
        assert_eq!(first.len(), 11);
        assert!(first["version"].is_null());
        assert_eq!(first["status"], "Resolved");
        assert_eq!(json["summary"]["total"], 2);
        assert_eq!(json["summary"]["resolved"], 1);
        assert_eq!(json["summary"]["failed"], 1);
    }

    #[test]
    fn terminal_escapes_in_service_text_are_shown_escaped() {
        let mut failed = row(ResolveStatus::OtherReasons);
        failed.message = Some("denied \x1b[2J\x1b[31m FAKE: all references Resolved\x1b[0m".into());
        failed.error_code = Some("Forbidden\u{202e}".into());
        let table = Report::new(vec![failed]).to_table();
        assert!(
            !table.contains('\x1b') && !table.contains('\u{202e}'),
            "{table:?}"
        );
        assert!(table.contains("\\u{1b}[2J"), "{table}");
        assert!(table.contains("Forbidden\\u{202e}"), "{table}");
    }

    #[test]
    fn table_aligns_columns_one_row_each() {
        let table = Report::new(rows()).to_table();
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("KEY"), "{table}");
        assert!(lines[1].starts_with("db.password"));
        assert!(lines[2].starts_with("api.key"));
        let status_column = lines[0].find("STATUS").unwrap();
        assert_eq!(
            lines[1][status_column..].split(' ').next(),
            Some("Resolved")
        );
        assert_eq!(
            lines[2][status_column..].split(' ').next(),
            Some("SecretNotFound")
        );
        assert!(lines[1].contains("(latest)"));
        assert!(lines[2].ends_with("Check the secret name and the vault."));
        assert_eq!(lines[4], "Details:");
        assert_eq!(lines[5], "  - api.key (env:APP_API__KEY): not found");
        assert_eq!(lines.last(), Some(&"2 references: 1 resolved, 1 failed"));
    }
}
