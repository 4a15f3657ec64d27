//! Machine names and the ownership filter (spec §2.5, quirk Q22, §0 M16).
//!
//! The filter template is `runner-<rfc short token>-<MachineName>`
//! ([`crate::config::token::filter_template`]). Templates are interpreted the way Go's
//! `fmt.Sprintf` / `fmt.Sscanf` treat them, for the two verbs that matter: `%s` (the slot) and
//! `%%` (a literal `%`). Other verbs are not modelled: they are copied verbatim into new names,
//! and one before the first `%s` makes the filter never match (documented choice; GitLab Runner
//! users write plain `%s` templates).

use rand::RngCore;

/// A new machine name: the template with its `%s` filled with `<unix-seconds>-<8 lowercase hex>`
/// (4 random bytes from `rng`, the "naming" stream) (spec §2.5).
///
/// Go `Sprintf` semantics: a second `%s` becomes `%!s(MISSING)`; a template without `%s` gets
/// the suffix appended as `%!(EXTRA string=<suffix>)`, a name docker-machine rejects (§0 M16).
pub fn new_machine_name(template: &str, unix_seconds: i64, rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 4];
    rng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let suffix = format!("{unix_seconds}-{hex}");
    sprintf_s(template, &suffix)
}

/// Formats `template` with one string argument, Go `Sprintf` style (`%s`, `%%` only).
pub fn sprintf_s(template: &str, arg: &str) -> String {
    let mut out = String::with_capacity(template.len() + arg.len());
    let mut used = false;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('s') => {
                chars.next();
                if used {
                    out.push_str("%!s(MISSING)");
                } else {
                    out.push_str(arg);
                    used = true;
                }
            }
            Some('%') => {
                chars.next();
                out.push('%');
            }
            _ => out.push('%'),
        }
    }
    if !used {
        out.push_str(&format!("%!(EXTRA string={arg})"));
    }
    out
}

/// The literal text before the first `%s` (with `%%` read as `%`), or `None` when the template
/// has no `%s` or another verb comes first.
fn literal_prefix(template: &str) -> Option<String> {
    let mut prefix = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            prefix.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => return Some(prefix),
            Some('%') => prefix.push('%'),
            _ => return None,
        }
    }
    None
}

/// The ownership test (spec §2.5): `name` belongs to the runner whose filter template is
/// `template` iff it starts with the literal text before `%s` and the `%s` slot then scans at
/// least one non-whitespace character (leading spaces and tabs skipped, as `Sscanf` does).
/// Text after `%s` in the template is **not** checked (quirk Q22). A template without `%s`
/// never matches (§0 M16).
pub fn belongs_to(template: &str, name: &str) -> bool {
    NameFilter::new(template).matches(name)
}

/// [`belongs_to`] with the template parsed once, for filtering many names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameFilter {
    prefix: Option<String>,
}

impl NameFilter {
    /// The filter of a template.
    pub fn new(template: &str) -> Self {
        NameFilter {
            prefix: literal_prefix(template),
        }
    }

    /// Whether `name` passes (see [`belongs_to`]).
    pub fn matches(&self, name: &str) -> bool {
        let Some(prefix) = &self.prefix else {
            return false;
        };
        let Some(rest) = name.strip_prefix(prefix.as_str()) else {
            return false;
        };
        rest.trim_start_matches([' ', '\t'])
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace())
    }
}

/// Whether `name` is a valid RFC 1123 DNS label sequence (lower-case letters, digits, `-`, `.`,
/// labels 1–63 characters, not starting or ending with `-`): what conformance cases 81 and 82
/// check of generated names.
pub fn is_rfc1123_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::RngStreams;
    fn named_stream(seed: u64, name: &str) -> crate::random::SimRng {
        RngStreams::new(seed).stream(name)
    }
    use crate::config::token::filter_template;

    fn name_for(token: &str, machine_name: &str, seed: u64) -> String {
        let template = filter_template(token, machine_name);
        new_machine_name(&template, 1_700_000_000, &mut named_stream(seed, "naming"))
    }

    #[test]
    fn case_081_name_is_rfc1123() {
        let n = name_for("token-of", "test-machine-%s", 1);
        assert!(
            n.starts_with("runner-token-of-test-machine-1700000000-"),
            "{n}"
        );
        assert!(is_rfc1123_name(&n), "{n}");
    }

    #[test]
    fn case_082_name_with_odd_token_is_rfc1123() {
        let n = name_for("ToK3_?OF", "test-machine-%s", 1);
        assert!(n.starts_with("runner-tok3of-test-machine-"), "{n}");
        assert!(is_rfc1123_name(&n), "{n}");
        assert!(!is_rfc1123_name("runner-ToK3_?OF-x"));
    }

    #[test]
    fn case_083_two_new_names_differ() {
        let template = filter_template("token-of", "test-machine-%s");
        let mut rng = named_stream(3, "naming");
        let a = new_machine_name(&template, 1_700_000_000, &mut rng);
        let b = new_machine_name(&template, 1_700_000_000, &mut rng);
        assert_ne!(a, b);
        let hex = a.rsplit('-').next().unwrap_or_default();
        assert_eq!(hex.len(), 8);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn case_084_filter_keeps_only_matching_names() {
        let kept: Vec<&str> = ["test-machine", "machine-template-10"]
            .into_iter()
            .filter(|n| belongs_to("machine-template-%s", n))
            .collect();
        assert_eq!(kept, ["machine-template-10"]);
    }

    #[test]
    fn case_085_generated_name_matches_its_template_only() {
        let mut rng = named_stream(9, "naming");
        let n = new_machine_name("test-machine-%s", 1_700_000_000, &mut rng);
        assert!(belongs_to("test-machine-%s", &n));
        assert!(!belongs_to("test-other-machine-%s", &n));
    }

    #[test]
    fn spec_example_name() {
        let n = name_for("glrt-t9Wkyj-HGRkqQ-VWTGAr", "auto-scale-%s", 5);
        assert!(
            n.starts_with("runner-t9wkyj-hg-auto-scale-1700000000-"),
            "{n}"
        );
    }

    #[test]
    fn q22_text_after_slot_is_not_checked() {
        assert!(belongs_to("ci-%s-big", "ci-123-small"));
        assert!(belongs_to("ci-%s", "ci-big-1"));
        assert!(!belongs_to("ci-%s", "ci-"));
        assert!(!belongs_to("ci-%s", "ci- "));
    }

    #[test]
    fn m16_template_without_slot() {
        assert_eq!(
            sprintf_s("runner-x-fixed", "1-ab"),
            "runner-x-fixed%!(EXTRA string=1-ab)"
        );
        assert!(!belongs_to(
            "runner-x-fixed",
            "runner-x-fixed%!(EXTRA string=1-ab)"
        ));
        assert_eq!(sprintf_s("a-%s-%s-100%%", "x"), "a-x-%!s(MISSING)-100%");
    }
}
