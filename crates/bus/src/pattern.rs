//! Topic name patterns: `*` matches any run of characters, dots included; every other character
//! matches itself. `hook.*` matches `hook.started` and `hook.step.finished`, not `hook`.

/// Whether `name` matches `pattern`.
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let Some(last) = parts.next_back() else {
        // No `*`: the whole name.
        return rest.is_empty();
    };
    // Each middle part at its leftmost place leaves the most room for the rest.
    for part in parts {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::matches;

    /// The definition, by backtracking.
    fn reference(pattern: &[u8], name: &[u8]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some((b'*', rest)) => (0..=name.len()).any(|skip| reference(rest, &name[skip..])),
            Some((c, rest)) => name.first() == Some(c) && reference(rest, &name[1..]),
        }
    }

    #[test]
    fn examples() {
        assert!(matches("hook.*", "hook.started"));
        assert!(matches("hook.*", "hook.step.finished"));
        assert!(matches("hook.*", "hook."));
        assert!(!matches("hook.*", "hook"));
        assert!(!matches("hook.*", "hooks.started"));
        assert!(matches("*", ""));
        assert!(matches("*.failed", "job.failed"));
        assert!(matches("job.*.failed", "job.build.failed"));
        assert!(!matches("job.*.failed", "job.failed"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
        assert!(!matches("a*a", "a"));
    }

    proptest! {
        #[test]
        fn agrees_with_the_definition(pattern in "[ab.*]{0,8}", name in "[ab.]{0,10}") {
            prop_assert_eq!(matches(&pattern, &name), reference(pattern.as_bytes(), name.as_bytes()));
        }
    }
}
