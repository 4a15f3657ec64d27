//! Runner tokens in machine names, and redaction of secrets (spec §2.5; issue "secrets").

/// The short token GitLab Runner puts into machine names (spec §2.5, conformance case 88):
/// strip one known prefix — `glrt-` optionally followed by `t1_`/`t2_`/`t3_`, `glrtr-`,
/// `glcbt-`, a bare `t1_`/`t2_`/`t3_`, or an old-style `GR` + 7 hex digits — then keep the
/// first 9 characters.
pub fn shorten_token(token: &str) -> String {
    let rest = strip_token_prefix(token);
    rest.chars().take(9).collect()
}

fn strip_token_prefix(token: &str) -> &str {
    const ROUTED: [&str; 3] = ["t1_", "t2_", "t3_"];
    if let Some(rest) = token.strip_prefix("glrt-") {
        for p in ROUTED {
            if let Some(r) = rest.strip_prefix(p) {
                return r;
            }
        }
        return rest;
    }
    for p in ["glrtr-", "glcbt-"] {
        if let Some(rest) = token.strip_prefix(p) {
            return rest;
        }
    }
    for p in ROUTED {
        if let Some(rest) = token.strip_prefix(p) {
            return rest;
        }
    }
    if let Some(rest) = token.strip_prefix("GR") {
        let hex = rest
            .as_bytes()
            .iter()
            .take(7)
            .filter(|b| b.is_ascii_hexdigit())
            .count();
        if hex == 7 && rest.len() > 7 {
            return &rest[7..];
        }
    }
    token
}

/// The short token made DNS-safe (spec §2.5): lower-cased, every character outside
/// `[-a-z0-9]` deleted, leading characters outside `[a-z0-9]` deleted, cut to 63 characters.
pub fn rfc_token(token: &str) -> String {
    let lower = shorten_token(token).to_lowercase();
    let kept: String = lower
        .chars()
        .filter(|c| *c == '-' || c.is_ascii_lowercase() || c.is_ascii_digit())
        .collect();
    kept.trim_start_matches('-').chars().take(63).collect()
}

/// The machine-name filter template: `runner-<rfc>-<MachineName>`, or `MachineName` alone when
/// the token yields an empty `rfc` (spec §2.5).
pub fn filter_template(token: &str, machine_name: &str) -> String {
    let rfc = rfc_token(token);
    if rfc.is_empty() {
        machine_name.to_string()
    } else {
        format!("runner-{rfc}-{machine_name}")
    }
}

/// Words that mark a `MachineOptions` key as a credential.
const SECRET_WORDS: [&str; 4] = ["key", "secret", "password", "token"];

/// Whether a key name marks a credential: it contains `key`, `secret`, `password` or `token`
/// (any case).
pub fn is_secret_name(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| k.contains(w))
}

/// A `MachineOptions` entry safe to print: `name=value` keeps `name` and replaces `value` with
/// `[REDACTED]` when `name` contains `key`, `secret`, `password` or `token` (any case); so does
/// a nested `NAME=value` inside the value (`engine-env=AWS_SECRET_ACCESS_KEY=…`).
pub fn redact_machine_option(option: &str) -> String {
    let Some((name, value)) = option.split_once('=') else {
        return option.to_string();
    };
    if is_secret_name(name) {
        return format!("{name}=[REDACTED]");
    }
    if let Some((inner, _)) = value.split_once('=')
        && is_secret_name(inner)
    {
        return format!("{name}={inner}=[REDACTED]");
    }
    option.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_088_shorten_token() {
        assert_eq!(shorten_token("glrt-t9Wkyj-HGRkqQ-VWTGAr"), "t9Wkyj-HG");
        assert_eq!(shorten_token("t1_t9Wkyj-HGRkqQ-VWTGAr"), "t9Wkyj-HG");
        assert_eq!(shorten_token("t4_t9Wkyj-HGRkqQ-VWTGAr"), "t4_t9Wkyj");
        assert_eq!(shorten_token("glrtr-t1_t9Wkyj-HGRkqQ-VWTGAr"), "t1_t9Wkyj");
        assert_eq!(shorten_token("GR1348941Z196cJVywzZpx_Ki_Cn2"), "Z196cJVyw");
        assert_eq!(shorten_token("veryverylongtoken"), "veryveryl");
        assert_eq!(shorten_token("glrt-t2_abcdefghijk"), "abcdefghi");
        assert_eq!(shorten_token("short"), "short");
    }

    #[test]
    fn rfc_and_template() {
        assert_eq!(rfc_token("ToK3_?OF"), "tok3of");
        assert_eq!(rfc_token("_-Ab"), "ab");
        assert_eq!(
            filter_template("glrt-t9Wkyj-HGRkqQ-VWTGAr", "auto-scale-%s"),
            "runner-t9wkyj-hg-auto-scale-%s"
        );
        assert_eq!(filter_template("__", "m-%s"), "m-%s");
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact_machine_option("amazonec2-secret-key=abc"),
            "amazonec2-secret-key=[REDACTED]"
        );
        assert_eq!(
            redact_machine_option("digitalocean-access-token=abc"),
            "digitalocean-access-token=[REDACTED]"
        );
        assert_eq!(
            redact_machine_option("engine-env=AWS_SECRET_ACCESS_KEY=abc"),
            "engine-env=AWS_SECRET_ACCESS_KEY=[REDACTED]"
        );
        assert_eq!(
            redact_machine_option("google-zone=us-east1-d"),
            "google-zone=us-east1-d"
        );
        assert_eq!(
            redact_machine_option("google-use-internal-ip"),
            "google-use-internal-ip"
        );
    }
}
