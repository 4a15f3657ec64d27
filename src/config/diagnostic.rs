//! Located load errors and warnings for `config.toml` (and, later, scenario files).
//!
//! Every diagnostic names the file, the line and column (from the TOML parser's byte spans),
//! the key path (`runners[0].machine.IdleCount`) and what was expected, and is rendered with a
//! source snippet by `miette`. The first line is always a single greppable line:
//! `FILE:LINE:COL: error[CODE]: PATH: MESSAGE`.

use std::fmt::Write as _;
use std::ops::Range;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource};

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Loads, but does something the user probably did not intend.
    Warning,
    /// GitLab Runner would refuse the file (or crash on it): simrun refuses it too.
    Error,
}

/// One located finding about an input file.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A short stable id, e.g. `unknown-key-lookalike`, `invalid-period`.
    pub code: &'static str,
    /// The key path the finding is about, e.g. `runners[0].machine.autoscaling[1].Periods[0]`
    /// (empty for the whole file).
    pub path: String,
    /// What is wrong and what it causes.
    pub message: String,
    /// What to do about it, when there is something to say.
    pub help: Option<String>,
    /// Byte range in the source, when known.
    #[serde(skip)]
    pub span: Option<Range<usize>>,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters), when known.
    pub column: Option<usize>,
}

impl Diagnostic {
    /// A new error at `span`.
    pub fn error(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, path, message)
    }

    /// A new warning at `span`.
    pub fn warning(
        code: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, code, path, message)
    }

    fn new(
        severity: Severity,
        code: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            path: path.into(),
            message: message.into(),
            help: None,
            span: None,
            line: None,
            column: None,
        }
    }

    /// Attaches a source span (byte range).
    pub fn at(mut self, span: Option<Range<usize>>) -> Self {
        self.span = span;
        self
    }

    /// Attaches a help text.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A source file: its display name and text, with line/column lookup.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The name shown in messages (a path as the user gave it).
    pub name: String,
    /// The full text.
    pub text: String,
    /// The text that may be quoted in output (secrets masked, same byte offsets).
    pub shown: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps `text` under the display name `name`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            shown: text.clone(),
            text,
            line_starts,
        }
    }

    /// Replaces the text that output may quote (it must have the same length as `text`).
    pub fn with_shown(mut self, shown: String) -> Self {
        if shown.len() == self.text.len() {
            self.shown = shown;
        } else {
            self.shown = String::new();
        }
        self
    }

    /// 1-based (line, column in characters) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, col)
    }

    /// Fills `line`/`column` of `d` from its span.
    pub fn locate(&self, d: &mut Diagnostic) {
        if let Some(span) = &d.span {
            let (l, c) = self.line_col(span.start);
            d.line = Some(l);
            d.column = Some(c);
        }
    }
}

/// The one-line form: `FILE:LINE:COL: error[CODE]: PATH: MESSAGE`.
pub fn one_line(d: &Diagnostic, file: &str) -> String {
    let mut s = String::new();
    s.push_str(file);
    if let (Some(l), Some(c)) = (d.line, d.column) {
        let _ = write!(s, ":{l}:{c}");
    }
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = write!(s, ": {sev}[{}]: ", d.code);
    if !d.path.is_empty() {
        let _ = write!(s, "{}: ", d.path);
    }
    s.push_str(&d.message);
    s
}

/// The one-line form followed by a source snippet with the span underlined and the help text
/// (rendered by miette, plain ASCII, no colour, fixed width so output is byte-stable).
pub fn render(d: &Diagnostic, src: &SourceFile) -> String {
    let mut out = one_line(d, &src.name);
    out.push('\n');
    let Some(span) = d.span.clone().filter(|s| s.end <= src.shown.len()) else {
        if let Some(h) = &d.help {
            let _ = writeln!(out, "  help: {h}");
        }
        return out;
    };
    // The message is already on the first line; miette gets a one-character stand-in whose line
    // is dropped below.
    let mut md = MietteDiagnostic::new("-");
    md = md.with_label(LabeledSpan::new_with_span(None, span));
    if let Some(h) = &d.help {
        md = md.with_help(h.clone());
    }
    let report =
        miette::Report::new(md).with_source_code(NamedSource::new(&src.name, src.shown.clone()));
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false)
        .with_context_lines(1);
    let mut rendered = String::new();
    if handler
        .render_report(&mut rendered, report.as_ref())
        .is_ok()
    {
        // Drop miette's own first line (it repeats the message).
        let body: Vec<&str> = rendered.lines().skip(1).collect();
        for line in body {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let src = SourceFile::new("c.toml", "a = 1\nbb = 2\n\nccc = 3");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(6), (2, 1));
        assert_eq!(src.line_col(11), (2, 6));
        assert_eq!(src.line_col(14), (4, 1));
        assert_eq!(src.line_col(16), (4, 3));
    }

    #[test]
    fn one_line_names_the_place() {
        let src = SourceFile::new("c.toml", "concurrent = 0\n");
        let mut d =
            Diagnostic::error("invalid-value", "concurrent", "must be at least 1").at(Some(13..14));
        src.locate(&mut d);
        assert_eq!(
            one_line(&d, "c.toml"),
            "c.toml:1:14: error[invalid-value]: concurrent: must be at least 1"
        );
        let r = render(&d, &src);
        assert!(r.starts_with("c.toml:1:14: error[invalid-value]"), "{r}");
        assert!(r.contains("concurrent = 0"), "{r}");
    }
}
