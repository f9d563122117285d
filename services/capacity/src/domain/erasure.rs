//! An erased person's name, cut out of the free text that mentions it.

/// What an erased person's name is replaced with in staff's free text.
pub const ERASED_NAME: &str = "[erased]";

/// One-letter Arabic words written joined to the next word ("and", "so",
/// "with", "for", "like"), up to two at once: "وبفاطمة" is "and with Fatima".
const PROCLITICS: &[char] = &['و', 'ف', 'ب', 'ل', 'ك'];

/// `text` with each mention of `name` replaced by [`ERASED_NAME`], or `None`
/// when it has none. A mention is the whole name as a word of its own (an
/// Arabic proclitic before it allowed), compared case-insensitively in
/// ASCII: "Ali" goes from "met Ali," but not from "Alia".
pub fn scrub_name(text: &str, name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    // ASCII lowercasing keeps every byte offset.
    let (haystack, needle) = (text.to_ascii_lowercase(), name.to_ascii_lowercase());
    // At the start of a word, or after one or two proclitics that are.
    let starts_word = |before: &str| {
        let mut chars = before.chars().rev().peekable();
        for _ in 0..2 {
            if chars.next_if(|c| PROCLITICS.contains(c)).is_none() {
                break;
            }
        }
        chars.next().is_none_or(|c| !c.is_alphanumeric())
    };
    let ends_word = |after: &str| after.chars().next().is_none_or(|c| !c.is_alphanumeric());
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in haystack.match_indices(&needle) {
        let end = at + needle.len();
        if at < copied || !starts_word(&text[..at]) || !ends_word(&text[end..]) {
            continue;
        }
        out.push_str(&text[copied..at]);
        out.push_str(ERASED_NAME);
        copied = end;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// The `LIKE` pattern (with `ESCAPE '\'`) that finds every text
/// [`scrub_name`] may change. It keeps the name's case: the query lowers
/// both sides with the database's own LOWER, so that the filter keeps every
/// row `scrub_name` would change on either database (PostgreSQL lowers every
/// letter, SQLite only ASCII ones; lowering here would miss "Ş" on SQLite).
pub fn mention_pattern(name: &str) -> String {
    let mut pattern = String::from("%");
    for c in name.trim().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_erased_name_goes_where_it_stands_as_a_word() {
        let name = "فاطمة الزهراء";
        let scrub = |text: &str| scrub_name(text, name);
        assert_eq!(
            scrub("حضر مع فاطمة الزهراء، وغادرت فاطمة الزهراء مبكراً").as_deref(),
            Some("حضر مع [erased]، وغادرت [erased] مبكراً")
        );
        // Joined to "and", "with": still her.
        assert_eq!(
            scrub("وفاطمة الزهراء وبفاطمة الزهراء").as_deref(),
            Some("و[erased] وب[erased]")
        );
        // Part of a longer word, or her first name alone: not a mention.
        assert_eq!(scrub("فاطمة الزهراءات"), None);
        assert_eq!(scrub("أخفاطمة الزهراء"), None);
        assert_eq!(scrub("فاطمة وحدها"), None);
        assert_eq!(scrub(""), None);
        assert_eq!(scrub_name("anything", "  "), None);
        // Latin names, whatever the case; never inside another name.
        assert_eq!(
            scrub_name("Met ALI and Alia; ali.", "Ali").as_deref(),
            Some("Met [erased] and Alia; [erased].")
        );
        assert_eq!(scrub_name("Khalid", "Ali"), None);
    }
}
