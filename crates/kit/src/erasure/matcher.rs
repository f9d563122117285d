//! Finding a person in free text, in every spelling a matcher can know.
//!
//! Text is read as a run of *words* after normalisation: letters lowercased;
//! the Arabic letter variants folded (أ إ آ ٱ → ا, ى ئ → ي, ة → ه, ؤ → و);
//! diacritics (tashkeel, Latin combining marks), tatweel, zero-width and
//! bidi controls dropped without splitting a word; Arabic-Indic digits read
//! as digits; common accented Latin letters read without their accent.
//! Everything else (spaces, dots, `@`, brackets) separates words — so
//! "N. Karimova", "n karimova" and "N.\u{200B}KARIMOVA" are the same two
//! words.
//!
//! A person is known by *forms*, each a run of words: the full name; two of
//! its names (the given name with any later one, any earlier one with the
//! family name), either by its initial, in either order; every earlier name
//! by its initial with the family name; each e-mail address; and — read
//! apart, as digits through any separators — each phone number (its last
//! nine digits, so "+963 944 123 456" and "0944-123-456" agree). An Arabic
//! conjunction or preposition glued to a name (و، ب، ل، ف، ك) does not hide
//! it. A given name alone is not a form: it cannot be told from someone
//! else's.
//!
//! Forms travel as [`MatchKeys`] — salted SHA-256 digests, never the text —
//! so a service can find the person in what it holds without the event
//! that asks it carrying the name.

use std::collections::HashSet;

use markaz_proto::events::v1::MatchKeys;
use ring::digest::{SHA256, digest};

/// What replaces a mention.
pub const ERASED: &str = "[erased]";

/// How an erasure knows the person (membership's record, before it is
/// overwritten).
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub names: Vec<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
}

/// The fewest digits a phone number is matched by, and the most.
const PHONE_MIN_DIGITS: usize = 7;
const PHONE_DIGITS: usize = 9;
/// Arabic particles written joined to the next word.
const CLITICS: [char; 5] = ['و', 'ب', 'ل', 'ف', 'ك'];

/// Finds one person's forms in text.
#[derive(Clone)]
pub struct Matcher {
    salt: Vec<u8>,
    digests: HashSet<[u8; 32]>,
    longest: usize,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("forms", &self.digests.len())
            .finish()
    }
}

impl Matcher {
    /// The forms of `subject`, under a fresh random salt.
    pub fn new(subject: &Subject) -> Matcher {
        let mut salt = vec![0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
            .expect("the system's random source");
        Matcher::with_salt(subject, salt)
    }

    fn with_salt(subject: &Subject, salt: Vec<u8>) -> Matcher {
        let mut m = Matcher {
            salt,
            digests: HashSet::new(),
            longest: 1,
        };
        let mut forms: Vec<Vec<String>> = Vec::new();
        for name in &subject.names {
            let w: Vec<String> = words(name).into_iter().map(|w| w.text).collect();
            if w.is_empty() {
                continue;
            }
            let initial = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
            forms.push(w.clone());
            // Two of the names, as people are written: the given name with
            // any later one ("Nadia Karimova" of "Nadia Karimova al-Hasan"),
            // any earlier one with the family name; either by its initial;
            // the two the other way round.
            let last = w.len() - 1;
            for i in 0..w.len() {
                for j in i + 1..w.len() {
                    if i != 0 && j != last {
                        continue;
                    }
                    let (a, b) = (&w[i], &w[j]);
                    forms.push(vec![a.clone(), b.clone()]);
                    forms.push(vec![initial(a), b.clone()]);
                    forms.push(vec![a.clone(), initial(b)]);
                    forms.push(vec![b.clone(), a.clone()]);
                }
            }
            if w.len() > 2 {
                // "N. M. Karimova": every earlier name by its initial.
                let mut initials: Vec<String> = w[..last].iter().map(|g| initial(g)).collect();
                initials.push(w[last].clone());
                forms.push(initials);
            }
        }
        for email in &subject.emails {
            let w: Vec<String> = words(email).into_iter().map(|w| w.text).collect();
            if !w.is_empty() {
                forms.push(w);
            }
        }
        for form in forms {
            m.longest = m.longest.max(form.len());
            m.digests.insert(m.hash("w:", &form[0]));
            m.digests.insert(m.hash("k:", &form.join(" ")));
        }
        for phone in &subject.phones {
            let digits: String = phone.chars().filter_map(digit).collect();
            if digits.len() >= PHONE_MIN_DIGITS {
                m.digests.insert(m.hash("t:", last(&digits, PHONE_DIGITS)));
            }
        }
        m
    }

    /// The matcher an erasure event describes.
    pub fn from_keys(keys: &MatchKeys) -> Matcher {
        Matcher {
            salt: keys.salt.clone(),
            digests: keys
                .digests
                .iter()
                .filter_map(|d| <[u8; 32]>::try_from(d.as_slice()).ok())
                .collect(),
            longest: (keys.longest as usize).clamp(1, 16),
        }
    }

    /// The keys, for the event that asks every service to erase.
    pub fn keys(&self) -> MatchKeys {
        let mut digests: Vec<Vec<u8>> = self.digests.iter().map(|d| d.to_vec()).collect();
        digests.sort();
        MatchKeys {
            salt: self.salt.clone(),
            digests,
            longest: self.longest as u32,
        }
    }

    /// Knows no form at all (nothing to look for).
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    fn hash(&self, kind: &str, form: &str) -> [u8; 32] {
        let mut input = Vec::with_capacity(self.salt.len() + kind.len() + form.len());
        input.extend_from_slice(&self.salt);
        input.extend_from_slice(kind.as_bytes());
        input.extend_from_slice(form.as_bytes());
        digest(&SHA256, &input)
            .as_ref()
            .try_into()
            .expect("32 bytes")
    }

    fn known(&self, kind: &str, form: &str) -> bool {
        self.digests.contains(&self.hash(kind, form))
    }

    /// The byte ranges of `text` that mention the person, merged, in order.
    fn mentions_in(&self, text: &str) -> Vec<(usize, usize)> {
        let mut spans = Vec::new();
        if self.is_empty() || text.is_empty() {
            return spans;
        }
        let ws = words(text);
        let mut i = 0;
        while i < ws.len() {
            let mut matched = None;
            for (particle, first) in candidates(&ws[i].text) {
                if !self.known("w:", first) {
                    continue;
                }
                let mut form = first.to_string();
                for (end, word) in ws.iter().enumerate().skip(i).take(self.longest) {
                    if end > i {
                        form.push(' ');
                        form.push_str(&word.text);
                    }
                    if self.known("k:", &form) && matched.is_none_or(|(_, e)| e <= end) {
                        matched = Some((particle, end));
                    }
                }
            }
            match matched {
                Some((particle, end)) => {
                    // "Nadia K." — an initial's dot goes with it.
                    let mut stop = ws[end].end;
                    if ws[end].text.chars().count() == 1 && text[stop..].starts_with('.') {
                        stop += 1;
                    }
                    spans.push((ws[i].start + particle, stop));
                    i = end + 1;
                }
                None => i += 1,
            }
        }
        for run in digit_runs(text) {
            if run.digits.len() >= PHONE_MIN_DIGITS
                && self.known("t:", last(&run.digits, PHONE_DIGITS))
            {
                spans.push((run.start, run.end));
            }
        }
        spans.sort();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (s, e) in spans {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    /// Whether `text` mentions the person.
    pub fn mentions(&self, text: &str) -> bool {
        !self.mentions_in(text).is_empty()
    }

    /// `text` with each mention replaced by [`ERASED`]; `None` if it has none.
    pub fn scrub(&self, text: &str) -> Option<String> {
        let spans = self.mentions_in(text);
        if spans.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (s, e) in spans {
            out.push_str(&text[at..s]);
            out.push_str(ERASED);
            at = e;
        }
        out.push_str(&text[at..]);
        Some(out)
    }
}

/// A word of text: its normalised letters and where it stands.
#[derive(Debug)]
struct Word {
    text: String,
    start: usize,
    end: usize,
}

/// The word itself, and without a particle glued to its front — each with
/// how many bytes of the original text the particle takes (it stays: "and
/// [erased]", not "[erased]").
fn candidates(word: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut chars = word.chars();
    let stripped = match chars.next() {
        Some(c) if CLITICS.contains(&c) && chars.clone().count() >= 2 => {
            Some((c.len_utf8(), chars.as_str()))
        }
        _ => None,
    };
    std::iter::once((0, word)).chain(stripped)
}

fn last(digits: &str, n: usize) -> &str {
    &digits[digits.len().saturating_sub(n)..]
}

/// Dropped without splitting a word: marks, tatweel, invisible controls.
fn ignorable(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'   // Latin combining marks
        | '\u{0610}'..='\u{061A}' // Arabic honorific marks
        | '\u{064B}'..='\u{065F}' // tashkeel
        | '\u{0670}'              // superscript alef
        | '\u{06D6}'..='\u{06ED}' // Quranic marks
        | '\u{0640}'              // tatweel
        | '\u{00AD}'              // soft hyphen
        | '\u{061C}'              // Arabic letter mark
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}' // zero-width, LRM, RLM
        | '\u{202A}'..='\u{202E}' // bidi embeddings
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' // bidi isolates
        | '\u{FE00}'..='\u{FE0F}' // variation selectors
        | '\u{FEFF}')
}

/// A digit in any script the region writes, as ASCII.
fn digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{0660}'..='\u{0669}' => char::from_u32(c as u32 - 0x0660 + '0' as u32),
        '\u{06F0}'..='\u{06F9}' => char::from_u32(c as u32 - 0x06F0 + '0' as u32),
        _ => None,
    }
}

/// One character as the matcher reads it (`None`: it separates words).
fn fold(c: char, out: &mut String) -> bool {
    if let Some(d) = digit(c) {
        out.push(d);
        return true;
    }
    let folded = match c {
        'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
        'ى' | 'ئ' | 'ی' => 'ي',
        'ة' => 'ه',
        'ؤ' => 'و',
        'ک' => 'ك',
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => 'a',
        'ç' | 'ć' | 'č' | 'Ç' | 'Ć' | 'Č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ė' | 'Ę' | 'Ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ı' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'İ' => 'i',
        'ñ' | 'ń' | 'ň' | 'Ñ' | 'Ń' | 'Ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' => {
            'u'
        }
        'ý' | 'ÿ' | 'Ý' => 'y',
        'š' | 'ś' | 'ş' | 'Š' | 'Ś' | 'Ş' => 's',
        'ž' | 'ź' | 'ż' | 'Ž' | 'Ź' | 'Ż' => 'z',
        'ğ' | 'Ğ' => 'g',
        'ł' | 'Ł' => 'l',
        'ß' => {
            out.push_str("ss");
            return true;
        }
        c if c.is_alphanumeric() => {
            out.extend(c.to_lowercase());
            return true;
        }
        _ => return false,
    };
    out.push(folded);
    true
}

fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut current: Option<Word> = None;
    for (at, c) in text.char_indices() {
        if ignorable(c) {
            if let Some(w) = current.as_mut() {
                w.end = at + c.len_utf8();
            }
            continue;
        }
        let mut buf = String::new();
        if fold(c, &mut buf) {
            let w = current.get_or_insert_with(|| Word {
                text: String::new(),
                start: at,
                end: at,
            });
            w.text.push_str(&buf);
            w.end = at + c.len_utf8();
        } else if let Some(w) = current.take() {
            out.push(w);
        }
    }
    out.extend(current);
    out
}

/// A run of digits with the separators phone numbers are written with.
struct DigitRun {
    digits: String,
    start: usize,
    end: usize,
}

fn digit_runs(text: &str) -> Vec<DigitRun> {
    let mut out = Vec::new();
    let mut current: Option<DigitRun> = None;
    for (at, c) in text.char_indices() {
        if let Some(d) = digit(c) {
            let r = current.get_or_insert_with(|| DigitRun {
                digits: String::new(),
                start: at,
                end: at,
            });
            r.digits.push(d);
            r.end = at + c.len_utf8();
        } else if current.is_some()
            && (matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '\u{00A0}') || ignorable(c))
        {
            // May continue; `end` stays at the last digit.
        } else if let Some(r) = current.take() {
            out.push(r);
        }
    }
    out.extend(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nadia() -> Matcher {
        Matcher::new(&Subject {
            names: vec!["Nadia Karimova".into()],
            emails: vec!["nadia.k@example.org".into()],
            phones: vec!["+963 944 123 456".into()],
        })
    }

    #[test]
    fn finds_the_name_in_every_latin_spelling() {
        let m = nadia();
        for text in [
            "met Nadia Karimova today",
            "NADIA KARIMOVA",
            "treasurer (Nadia K.)",
            "N. Karimova called",
            "N.Karimova",
            "Karimova Nadia",
            "Na\u{200B}dia Kari\u{00AD}mova",
            "Nádia Karimová",
            "write to nadia.k@example.org",
            "write to NADIA.K@EXAMPLE.ORG",
            "call 0944-123-456",
            "call +963 944 123 456 tonight",
            "call ٠٩٤٤١٢٣٤٥٦",
        ] {
            let scrubbed = m
                .scrub(text)
                .unwrap_or_else(|| panic!("missed in {text:?}"));
            assert!(scrubbed.contains(ERASED), "{scrubbed}");
            assert!(!m.mentions(&scrubbed), "{text:?} -> {scrubbed:?}");
        }
    }

    #[test]
    fn finds_an_arabic_name_in_every_spelling() {
        let m = Matcher::new(&Subject {
            names: vec!["نادية كريموفا".into()],
            ..Default::default()
        });
        for text in [
            "حضرت نادية كريموفا الجلسة",
            "ناديه كريموفا",
            "نادِيَة كَريموفا",
            "نـاديـة كريـموفا",
            "نادية\u{200F} كريموفا",
            "\u{2067}نادية كريموفا\u{2069}",
            "ن. كريموفا",
            "نادية ك.",
            "ونادية كريموفا",
            "كريموفا نادية",
        ] {
            assert_eq!(
                m.scrub(text).map(|s| s.contains(ERASED)),
                Some(true),
                "missed in {text:?}"
            );
        }
        assert_eq!(
            m.scrub("مع سعاد ونادية كريموفا").as_deref(),
            Some("مع سعاد و[erased]")
        );
        let m = Matcher::new(&Subject {
            names: vec!["نادية كريموفا الحسن".into()],
            ..Default::default()
        });
        for text in [
            "نادية كريموفا",
            "نادية الحسن",
            "ن. الحسن",
            "كريموفا الحسن",
            "ن. ك. الحسن",
        ] {
            assert!(m.mentions(text), "missed {text:?} of a longer name");
        }
        let m = Matcher::new(&Subject {
            names: vec!["أحمد الرفاعي".into()],
            ..Default::default()
        });
        assert!(m.mentions("احمد الرفاعى"));
        assert!(m.mentions("إحمد الرفاعي"));
    }

    #[test]
    fn leaves_other_people_and_the_surrounding_text() {
        let m = nadia();
        for text in [
            "Nadia Petrova",
            "Karimov",
            "Nadia",
            "N. Petrova",
            "call 0944-999-000",
            "nadia@example.org",
            "Nadiakarimova",
        ] {
            assert_eq!(m.scrub(text), None, "{text:?}");
        }
        assert_eq!(
            m.scrub("met Nadia Karimova (nadia.k@example.org) today")
                .as_deref(),
            Some("met [erased] ([erased]) today")
        );
    }

    #[test]
    fn keys_find_what_the_subject_finds_and_hold_no_name() {
        let m = nadia();
        let keys = m.keys();
        let encoded = prost::Message::encode_to_vec(&keys);
        assert!(
            !String::from_utf8_lossy(&encoded)
                .to_lowercase()
                .contains("karimova")
        );
        let again = Matcher::from_keys(&keys);
        assert!(again.mentions("N. Karimova"));
        assert!(!again.mentions("N. Petrova"));
        // Another erasure's salt: the same name gives other digests.
        assert!(
            nadia()
                .keys()
                .digests
                .iter()
                .all(|d| !keys.digests.contains(d))
        );
    }
}
