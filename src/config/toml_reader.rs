//! Reading a TOML document the way GitLab Runner's TOML library (BurntSushi/toml v1.6) fills
//! Go structs: keys match a field's name exactly or case-insensitively (spec §0 W3), every
//! other key is silently ignored, integers convert to floats (§0 W2) but not the other way, a
//! `time.Duration` reads a Go duration string or an integer of nanoseconds (§0 M15).
//!
//! This is a small typed cursor over `toml::de::DeTable` that keeps byte spans, so every
//! error and warning can name its file, line, column and key path.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::Diagnostic;
use super::go_duration::parse_go_duration;

/// A key that GitLab Runner (and simrun) accepts but does not interpret.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IgnoredKey {
    /// Full key path, e.g. `runners[0].docker.image`.
    pub path: String,
    /// 1-based line of the key.
    pub line: usize,
    /// Byte span of the key (internal).
    #[serde(skip)]
    pub span: Range<usize>,
    /// The field of the same table that it looks like (`idle_count` → `IdleCount`), if any.
    pub looks_like: Option<String>,
    /// What the value is (`a table`, `a string`, …).
    pub kind: &'static str,
}

/// Diagnostics and side records collected while reading.
#[derive(Debug, Default)]
pub struct ReadLog {
    /// Load errors.
    pub errors: Vec<Diagnostic>,
    /// Warnings.
    pub warnings: Vec<Diagnostic>,
    /// Keys accepted and ignored, in document order per table.
    pub ignored: Vec<IgnoredKey>,
    /// Span of every key path that was read (key start .. value end).
    pub spans: BTreeMap<String, Range<usize>>,
    /// Span of the value of every key path that was read.
    pub value_spans: BTreeMap<String, Range<usize>>,
}

impl ReadLog {
    /// Span (key .. value) of a path read earlier.
    pub fn span(&self, path: &str) -> Option<Range<usize>> {
        self.spans.get(path).cloned()
    }
    /// Span of the value at a path read earlier.
    pub fn value_span(&self, path: &str) -> Option<Range<usize>> {
        self.value_spans.get(path).cloned()
    }
}

/// The name of a TOML value's type, for messages.
pub fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn normalise(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A cursor over one TOML table with a key path prefix. Call the typed getters for every field
/// the Go struct has, then [`TableCursor::finish`] to record the rest as ignored.
pub struct TableCursor<'a, 'i> {
    table: &'a DeTable<'i>,
    path: String,
    used: Vec<bool>,
    fields: Vec<&'static str>,
}

/// A matched key: its spelling in the file and its value.
pub struct Found<'a, 'i> {
    /// The key as written.
    pub key: &'a Spanned<std::borrow::Cow<'i, str>>,
    /// The value.
    pub value: &'a Spanned<DeValue<'i>>,
    /// The full path of this key (`prefix.key-as-written`).
    pub path: String,
}

impl<'a, 'i> TableCursor<'a, 'i> {
    /// A cursor over `table`, whose own path is `path` (empty for the document root).
    pub fn new(table: &'a DeTable<'i>, path: impl Into<String>) -> Self {
        TableCursor {
            table,
            path: path.into(),
            used: vec![false; table.len()],
            fields: Vec::new(),
        }
    }

    /// This table's key path.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn child_path(&self, key: &str) -> String {
        let k = if key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && !key.is_empty()
        {
            key.to_string()
        } else {
            format!("{key:?}")
        };
        if self.path.is_empty() {
            k
        } else {
            format!("{}.{k}", self.path)
        }
    }

    /// Finds the key for Go field `field`: an exact match, else a case-insensitive one (§0 W3).
    /// When several keys match, GitLab Runner applies them in Go map order (random); simrun
    /// takes the exact spelling, else the first, and warns.
    pub fn find(&mut self, field: &'static str, log: &mut ReadLog) -> Option<Found<'a, 'i>> {
        self.fields.push(field);
        let mut matches: Vec<usize> = Vec::new();
        for (i, (k, _)) in self.table.iter().enumerate() {
            if k.get_ref().as_ref() == field || k.get_ref().eq_ignore_ascii_case(field) {
                matches.push(i);
            }
        }
        if matches.is_empty() {
            return None;
        }
        for &i in &matches {
            self.used[i] = true;
        }
        let chosen = matches
            .iter()
            .copied()
            .find(|&i| {
                self.table
                    .iter()
                    .nth(i)
                    .is_some_and(|(k, _)| k.get_ref().as_ref() == field)
            })
            .unwrap_or(matches[0]);
        let (key, value) = self.table.iter().nth(chosen)?;
        // Paths use the field's own spelling so later checks can find them; spans point at
        // the text as written.
        let path = self.child_path(field);
        if matches.len() > 1 {
            let spellings: Vec<String> = matches
                .iter()
                .filter_map(|&i| self.table.iter().nth(i))
                .map(|(k, _)| format!("`{}`", k.get_ref()))
                .collect();
            log.warnings.push(
                Diagnostic::warning(
                    "duplicate-key",
                    path.clone(),
                    format!(
                        "{} all set {field}; GitLab Runner applies them in random order (Go map order), so either value may win",
                        spellings.join(" and ")
                    ),
                )
                .at(Some(key.span()))
                .help(format!("keep only one spelling; simrun uses `{}`", key.get_ref())),
            );
        }
        log.spans
            .insert(path.clone(), key.span().start..value.span().end);
        log.value_spans.insert(path.clone(), value.span());
        Some(Found { key, value, path })
    }

    fn mismatch(found: &Found<'_, '_>, expected: &str) -> Diagnostic {
        Diagnostic::error(
            "wrong-type",
            found.path.clone(),
            format!(
                "expected {expected}, found {}",
                type_name(found.value.get_ref())
            ),
        )
        .at(Some(found.value.span()))
    }

    /// The value of a TOML integer as a Go `int64`, or an error when it does not fit.
    fn integer(f: &Found<'_, '_>, n: &toml::de::DeInteger<'_>, log: &mut ReadLog) -> Option<i64> {
        match i64::from_str_radix(n.as_str(), n.radix()) {
            Ok(v) => Some(v),
            Err(_) => {
                log.errors.push(
                    Diagnostic::error("wrong-type", f.path.clone(), "integer out of range")
                        .at(Some(f.value.span())),
                );
                None
            }
        }
    }

    /// A Go `int` field (64-bit). Absent → `None`.
    pub fn int(&mut self, field: &'static str, log: &mut ReadLog) -> Option<i64> {
        let f = self.find(field, log)?;
        match f.value.get_ref() {
            DeValue::Integer(n) => Self::integer(&f, n, log),
            _ => {
                log.errors.push(Self::mismatch(&f, "an integer"));
                None
            }
        }
    }

    /// A Go `float64` field: a float, or an integer converted to float (§0 W2).
    pub fn float(&mut self, field: &'static str, log: &mut ReadLog) -> Option<f64> {
        let f = self.find(field, log)?;
        match f.value.get_ref() {
            DeValue::Integer(n) => Self::integer(&f, n, log).map(|v| v as f64),
            DeValue::Float(x) => match x.as_str().replace('_', "").parse::<f64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    log.errors.push(
                        Diagnostic::error("wrong-type", f.path.clone(), "unreadable float")
                            .at(Some(f.value.span())),
                    );
                    None
                }
            },
            _ => {
                log.errors.push(Self::mismatch(&f, "a number"));
                None
            }
        }
    }

    /// A Go `bool` field.
    pub fn bool(&mut self, field: &'static str, log: &mut ReadLog) -> Option<bool> {
        let f = self.find(field, log)?;
        match f.value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                log.errors
                    .push(Self::mismatch(&f, "a boolean (true or false)"));
                None
            }
        }
    }

    /// A Go `string` field.
    pub fn string(&mut self, field: &'static str, log: &mut ReadLog) -> Option<String> {
        let f = self.find(field, log)?;
        match f.value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                log.errors.push(Self::mismatch(&f, "a string"));
                None
            }
        }
    }

    /// A Go `[]string` field. Returns the strings with their paths and value spans.
    pub fn strings(
        &mut self,
        field: &'static str,
        log: &mut ReadLog,
    ) -> Option<Vec<(String, String, Range<usize>)>> {
        let f = self.find(field, log)?;
        match f.value.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{}[{i}]", f.path);
                    match item.get_ref() {
                        DeValue::String(s) => {
                            log.spans.insert(p.clone(), item.span());
                            log.value_spans.insert(p.clone(), item.span());
                            out.push((s.to_string(), p, item.span()));
                        }
                        other => log.errors.push(
                            Diagnostic::error(
                                "wrong-type",
                                p,
                                format!("expected a string, found {}", type_name(other)),
                            )
                            .at(Some(item.span())),
                        ),
                    }
                }
                Some(out)
            }
            _ => {
                log.errors.push(Self::mismatch(&f, "an array of strings"));
                None
            }
        }
    }

    /// A Go `time.Duration` field: a Go duration string, or an integer read as nanoseconds
    /// (§0 M15). Returns (nanoseconds, written as integer?).
    pub fn duration(&mut self, field: &'static str, log: &mut ReadLog) -> Option<(i64, bool)> {
        let f = self.find(field, log)?;
        match f.value.get_ref() {
            DeValue::String(s) => match parse_go_duration(s) {
                Ok(ns) => Some((ns, false)),
                Err(e) => {
                    log.errors.push(
                        Diagnostic::error("invalid-duration", f.path.clone(), e)
                            .at(Some(f.value.span())),
                    );
                    None
                }
            },
            DeValue::Integer(n) => Self::integer(&f, n, log).map(|v| (v, true)),
            _ => {
                log.errors
                    .push(Self::mismatch(&f, "a duration string such as \"5s\""));
                None
            }
        }
    }

    /// A sub-table (a Go struct or pointer to struct).
    pub fn table(&mut self, field: &'static str, log: &mut ReadLog) -> Option<TableCursor<'a, 'i>> {
        let f = self.find(field, log)?;
        match f.value.get_ref() {
            DeValue::Table(t) => Some(TableCursor::new(t, f.path)),
            _ => {
                log.errors.push(Self::mismatch(&f, "a table"));
                None
            }
        }
    }

    /// An array of tables (`[[field]]`, a Go slice of structs). A single `[field]` table is
    /// an error, as in GitLab Runner.
    pub fn array_of_tables(
        &mut self,
        field: &'static str,
        log: &mut ReadLog,
    ) -> Option<Vec<TableCursor<'a, 'i>>> {
        let f = self.find(field, log)?;
        match f.value.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{}[{i}]", f.path);
                    match item.get_ref() {
                        DeValue::Table(t) => {
                            log.spans.insert(p.clone(), item.span());
                            out.push(TableCursor::new(t, p));
                        }
                        other => log.errors.push(
                            Diagnostic::error(
                                "wrong-type",
                                p,
                                format!("expected a table, found {}", type_name(other)),
                            )
                            .at(Some(item.span())),
                        ),
                    }
                }
                Some(out)
            }
            DeValue::Table(_) => {
                log.errors.push(
                    Diagnostic::error(
                        "wrong-type",
                        f.path.clone(),
                        format!(
                            "expected an array of tables ([[{}]]), found a single table",
                            f.path
                        ),
                    )
                    .at(Some(f.key.span()))
                    .help(format!("write [[{}]] with double brackets", f.path)),
                );
                None
            }
            _ => {
                log.errors.push(Self::mismatch(&f, "an array of tables"));
                None
            }
        }
    }

    /// Records every key not read as ignored (GitLab Runner accepts unknown keys silently),
    /// noting keys that look like one of this table's fields (`idle_count` → `IdleCount`).
    pub fn finish(self, src: &super::diagnostic::SourceFile, log: &mut ReadLog) {
        for (i, (k, v)) in self.table.iter().enumerate() {
            if self.used[i] {
                continue;
            }
            let key = k.get_ref();
            let path = self.child_path(key);
            let n = normalise(key);
            let looks_like = self
                .fields
                .iter()
                .find(|f| normalise(f) == n)
                .map(|f| f.to_string());
            let span = k.span();
            let (line, _) = src.line_col(span.start);
            log.ignored.push(IgnoredKey {
                path,
                line,
                span,
                looks_like,
                kind: type_name(v.get_ref()),
            });
        }
    }
}
