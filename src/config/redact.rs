//! Masking credentials in config text before any of it is shown (diagnostic snippets).
//!
//! A full runner token or a credential in `MachineOptions` must never appear in output
//! (DEVELOPERS.md "Standards"). Diagnostics quote source lines, so the text they quote is a
//! copy with every secret replaced by `*` of the same byte length (spans stay valid).

use toml::de::{DeTable, DeValue};

use super::token::{is_secret_name, redact_machine_option};

/// A copy of `text` with secrets masked: string values of keys whose name contains `key`,
/// `secret`, `password` or `token` (any case, at any depth), and the value part of
/// `name=value` items in string arrays whose `name` is such a word (`MachineOptions`,
/// `environment`). When the text is not valid TOML, every quoted string on a line that
/// mentions such a word is masked.
pub fn mask_secrets(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    match DeTable::parse(text) {
        Ok(doc) => mask_table(doc.get_ref(), text, &mut bytes),
        Err(_) => mask_lines(text, &mut bytes),
    }
    String::from_utf8(bytes).unwrap_or_else(|_| "*".repeat(text.len()))
}

fn mask_range(bytes: &mut [u8], start: usize, end: usize) {
    for b in bytes.iter_mut().take(end).skip(start) {
        if *b != b'\n' {
            *b = b'*';
        }
    }
}

/// The byte range of a string literal's content inside its span (quotes excluded).
fn content_range(text: &str, span: std::ops::Range<usize>) -> Option<(usize, usize)> {
    let raw = text.get(span.clone())?;
    let q = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        3
    } else {
        1
    };
    if raw.len() < 2 * q {
        return None;
    }
    Some((span.start + q, span.end - q))
}

fn mask_table(t: &DeTable<'_>, text: &str, bytes: &mut [u8]) {
    for (k, v) in t.iter() {
        mask_value(Some(k.get_ref()), v, text, bytes);
    }
}

fn mask_value(key: Option<&str>, v: &toml::Spanned<DeValue<'_>>, text: &str, bytes: &mut [u8]) {
    match v.get_ref() {
        DeValue::String(s) => {
            let Some((a, b)) = content_range(text, v.span()) else {
                return;
            };
            if key.is_some_and(is_secret_name) {
                mask_range(bytes, a, b);
            } else if redact_machine_option(s) != *s {
                // `name=secret` or `name=INNER=secret`: mask after the '=' that redaction keeps.
                let raw = &text[a..b];
                let keep = redact_machine_option(s).find("[REDACTED]").unwrap_or(0);
                let cut = raw
                    .char_indices()
                    .filter(|(_, c)| *c == '=')
                    .map(|(i, _)| i + 1)
                    .find(|&i| i >= keep.min(raw.len()));
                let from = cut.or_else(|| raw.find('=').map(|i| i + 1)).unwrap_or(0);
                mask_range(bytes, a + from, b);
            }
        }
        DeValue::Array(items) => {
            for item in items.iter() {
                mask_value(None, item, text, bytes);
            }
        }
        DeValue::Table(t) => mask_table(t, text, bytes),
        _ => {}
    }
}

fn mask_lines(text: &str, bytes: &mut [u8]) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let lower = line.to_ascii_lowercase();
        if ["key", "secret", "password", "token"]
            .iter()
            .any(|w| lower.contains(w))
        {
            // `token = glrt-…` without quotes (the usual cause of the parse error itself):
            // the whole value after the `=` of a secret-named key.
            if let Some(eq) = line.find('=')
                && is_secret_name(line[..eq].trim().trim_matches('"'))
            {
                let value = line[eq + 1..].trim_end_matches(['\n', '\r']);
                let lead = value.len() - value.trim_start().len();
                mask_range(bytes, offset + eq + 1 + lead, offset + eq + 1 + value.len());
                offset += line.len();
                continue;
            }
            let mut in_quote: Option<(char, usize)> = None;
            for (i, c) in line.char_indices() {
                match in_quote {
                    None if c == '"' || c == '\'' => in_quote = Some((c, i + 1)),
                    Some((q, start)) if c == q => {
                        mask_range(bytes, offset + start, offset + i);
                        in_quote = None;
                    }
                    _ => {}
                }
            }
            if let Some((_, start)) = in_quote {
                mask_range(
                    bytes,
                    offset + start,
                    offset + line.trim_end_matches('\n').len(),
                );
            }
        }
        offset += line.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_an_unquoted_token_in_invalid_toml() {
        let text = "[[runners]]\n  name = \"r\"\n  token = glrt-t1_SecretTokenValue\n  url = \"https://gitlab.example.com/\"\n";
        let m = mask_secrets(text);
        assert_eq!(m.len(), text.len());
        assert!(!m.contains("SecretTokenValue"), "{m}");
        assert!(m.contains("  token = ****"), "{m}");
        assert!(
            m.contains("https://gitlab.example.com/"),
            "other lines stay: {m}"
        );
    }

    #[test]
    fn masks_tokens_and_credential_options_keeping_offsets() {
        let text = "[[runners]]\n  token = \"glrt-abcdef\"\n  [runners.machine]\n    MachineOptions = [\"amazonec2-secret-key=s3cr3t\", \"amazonec2-zone=a\", \"engine-env=DB_PASSWORD=pw\"]\n  [runners.cache]\n    AccessKey = \"AKIA\"\n";
        let m = mask_secrets(text);
        assert_eq!(m.len(), text.len());
        for s in ["glrt-abcdef", "s3cr3t", "AKIA", "=pw\""] {
            assert!(!m.contains(s), "{s} leaked: {m}");
        }
        assert!(m.contains("amazonec2-secret-key=******"), "{m}");
        assert!(m.contains("engine-env=DB_PASSWORD=**"), "{m}");
        assert!(m.contains("amazonec2-zone=a"), "{m}");
    }

    #[test]
    fn masks_lines_of_unparsable_text() {
        let text = "token = \"glrt-abc\nname = \"x\"\n";
        let m = mask_secrets(text);
        assert!(!m.contains("glrt-abc"), "{m}");
        assert!(m.contains("name = \"x\""), "{m}");
    }
}
