//! Dial plan patterns and the dial plan itself.
//!
//! Pattern language (Asterisk-like, without the leading `_`), matched
//! against the whole dialled string:
//!
//! | Element  | Matches                                          |
//! |----------|--------------------------------------------------|
//! | `0`–`9`, `*`, `#`, `+` | that character                     |
//! | `X`      | any digit `0`–`9`                                |
//! | `Z`      | a digit `1`–`9`                                  |
//! | `N`      | a digit `2`–`9`                                  |
//! | `[...]`  | one character of the set: digits and ranges, e.g. `[1-5]`, `[13-5*]` |
//! | `.`      | one or more further characters (digits, `*`, `#`); only at the end |
//!
//! Letters are upper case only; spaces are not allowed.

use std::fmt;

/// A set of dial characters: bit `i` for digit `i`, bits 10, 11, 12 for
/// `*`, `#`, `+`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CharSet(u16);

impl CharSet {
    const ANY_DIGIT: CharSet = CharSet(0b11_1111_1111);
    const ANY_DIAL: CharSet = CharSet(0b1111_1111_1111);

    fn bit(c: char) -> Option<u16> {
        match c {
            '0'..='9' => Some(1 << (c as u16 - u16::from(b'0'))),
            '*' => Some(1 << 10),
            '#' => Some(1 << 11),
            '+' => Some(1 << 12),
            _ => None,
        }
    }

    fn digits(from: u8, to: u8) -> CharSet {
        CharSet((from..=to).fold(0, |acc, d| acc | (1 << d)))
    }

    fn contains(self, c: char) -> bool {
        Self::bit(c).is_some_and(|b| self.0 & b != 0)
    }

    fn single(self) -> Option<char> {
        if self.0.count_ones() != 1 {
            return None;
        }
        let index = self.0.trailing_zeros();
        match index {
            0..=9 => char::from_digit(index, 10),
            10 => Some('*'),
            11 => Some('#'),
            _ => Some('+'),
        }
    }
}

/// Why a pattern does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PatternErrorKind {
    /// The pattern is empty.
    #[error("empty pattern")]
    Empty,
    /// A character that is not part of the language.
    #[error("unexpected character")]
    UnexpectedChar,
    /// `.` anywhere but at the end, or as the whole pattern.
    #[error("`.` must be the last element and follow at least one other")]
    MisplacedDot,
    /// `[` without `]`.
    #[error("`[` without matching `]`")]
    UnclosedSet,
    /// `[]`.
    #[error("empty character set")]
    EmptySet,
    /// `[5-1]`, or a range bound that is not a digit.
    #[error("invalid range")]
    BadRange,
}

/// A pattern that does not compile, with the 1-based character position of
/// the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at character {position}")]
pub struct PatternError {
    /// What is wrong.
    pub kind: PatternErrorKind,
    /// 1-based character position in the pattern.
    pub position: usize,
}

/// A compiled dial pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialPattern {
    source: String,
    elements: Vec<CharSet>,
    trailing: bool,
}

impl DialPattern {
    /// Compiles `source`.
    pub fn parse(source: &str) -> Result<Self, PatternError> {
        let err = |kind, position| Err(PatternError { kind, position });
        if source.is_empty() {
            return err(PatternErrorKind::Empty, 1);
        }
        let chars: Vec<char> = source.chars().collect();
        let mut elements = Vec::new();
        let mut trailing = false;
        let mut i = 0;
        while i < chars.len() {
            let position = i + 1;
            let c = chars[i];
            let set = match c {
                'X' => CharSet::ANY_DIGIT,
                'Z' => CharSet::digits(1, 9),
                'N' => CharSet::digits(2, 9),
                '.' => {
                    if i + 1 != chars.len() || elements.is_empty() {
                        return err(PatternErrorKind::MisplacedDot, position);
                    }
                    trailing = true;
                    i += 1;
                    continue;
                }
                '[' => {
                    let Some(close) = chars[i..].iter().position(|&c| c == ']') else {
                        return err(PatternErrorKind::UnclosedSet, position);
                    };
                    let set = parse_set(&chars[i + 1..i + close], position + 1)?;
                    i += close + 1;
                    elements.push(set);
                    continue;
                }
                _ => match CharSet::bit(c) {
                    Some(b) => CharSet(b),
                    None => return err(PatternErrorKind::UnexpectedChar, position),
                },
            };
            elements.push(set);
            i += 1;
        }
        Ok(Self {
            source: source.to_owned(),
            elements,
            trailing,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `number` matches the whole pattern.
    pub fn matches(&self, number: &str) -> bool {
        let mut chars = number.chars();
        for set in &self.elements {
            match chars.next() {
                Some(c) if set.contains(c) => {}
                _ => return false,
            }
        }
        let rest = chars.as_str();
        if self.trailing {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| CharSet::ANY_DIAL.contains(c) && c != '+')
        } else {
            rest.is_empty()
        }
    }

    /// The length of the shortest string the pattern matches.
    pub fn min_len(&self) -> usize {
        self.elements.len() + usize::from(self.trailing)
    }

    /// The only string the pattern matches, if it has no wildcards.
    pub fn literal(&self) -> Option<String> {
        if self.trailing {
            return None;
        }
        self.elements.iter().map(|s| s.single()).collect()
    }
}

impl fmt::Display for DialPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Parses the inside of `[...]`; `offset` is the 1-based position of its
/// first character.
fn parse_set(inner: &[char], offset: usize) -> Result<CharSet, PatternError> {
    if inner.is_empty() {
        return Err(PatternError {
            kind: PatternErrorKind::EmptySet,
            position: offset - 1,
        });
    }
    let mut set = 0u16;
    let mut j = 0;
    while j < inner.len() {
        let position = offset + j;
        let c = inner[j];
        if inner.get(j + 1) == Some(&'-') {
            let (Some(from), Some(to)) = (
                c.to_digit(10),
                inner.get(j + 2).and_then(|t| t.to_digit(10)),
            ) else {
                return Err(PatternError {
                    kind: PatternErrorKind::BadRange,
                    position,
                });
            };
            if from > to {
                return Err(PatternError {
                    kind: PatternErrorKind::BadRange,
                    position,
                });
            }
            set |= CharSet::digits(from as u8, to as u8).0;
            j += 3;
            continue;
        }
        match CharSet::bit(c) {
            Some(b) => set |= b,
            None => {
                return Err(PatternError {
                    kind: PatternErrorKind::UnexpectedChar,
                    position,
                });
            }
        }
        j += 1;
    }
    Ok(CharSet(set))
}

/// Where a matched call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The rewritten number is an extension number; ring that extension.
    Extension,
    /// Out through these trunks, tried in this order (ascending priority).
    TrunkGroup(Vec<String>),
    /// Answer with the echo test.
    EchoTest,
}

/// One rule of the dial plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRule {
    /// Unique name of the rule (shown in the UI and call records).
    pub name: String,
    /// What the dialled number must match.
    pub pattern: DialPattern,
    /// Number of characters removed from the front before `prefix` is added.
    pub strip: usize,
    /// Characters added in front after stripping.
    pub prefix: String,
    /// Where the call goes.
    pub destination: Destination,
}

impl DialRule {
    /// The number after stripping and prefixing (assumes a match).
    pub fn rewrite(&self, number: &str) -> String {
        let rest: String = number.chars().skip(self.strip).collect();
        format!("{}{rest}", self.prefix)
    }
}

/// The ordered dial plan: the first matching rule wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialPlan {
    /// Rules in the order they are tried.
    pub rules: Vec<DialRule>,
}

/// The result of [`DialPlan::dry_run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialMatch<'a> {
    /// Index of the matching rule in [`DialPlan::rules`].
    pub rule_index: usize,
    /// Name of the matching rule.
    pub rule_name: &'a str,
    /// The number after the rule's strip and prefix.
    pub rewritten: String,
    /// Where the call goes.
    pub destination: &'a Destination,
}

impl DialPlan {
    /// Which rule `number` matches and what it becomes; `None` when no rule
    /// matches (the call is refused). Pure: used by the SIP core and the UI.
    pub fn dry_run(&self, number: &str) -> Option<DialMatch<'_>> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, rule)| rule.pattern.matches(number))
            .map(|(rule_index, rule)| DialMatch {
                rule_index,
                rule_name: &rule.name,
                rewritten: rule.rewrite(number),
                destination: &rule.destination,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_numbers_only() {
        let table: &[(&str, &str, bool)] = &[
            ("112", "112", true),
            ("112", "1120", false),
            ("112", "11", false),
            ("2XX", "201", true),
            ("2XX", "2011", false),
            ("2XX", "301", false),
            ("0ZXXXXXXXX", "0201234567", true),
            ("0ZXXXXXXXX", "0001234567", false),
            ("06XXXXXXXX", "0612345678", true),
            ("N11", "211", true),
            ("N11", "111", false),
            ("[1-5]0", "30", true),
            ("[1-5]0", "60", false),
            ("[13-5*]", "*", true),
            ("[13-5*]", "2", false),
            ("00Z.", "0044123", true),
            ("00Z.", "004", false),
            ("*43", "*43", true),
            ("+31.", "+31201234567", true),
            ("X.", "1+2", false),
        ];
        for (pattern, number, expected) in table {
            let p = DialPattern::parse(pattern).unwrap();
            assert_eq!(p.matches(number), *expected, "{pattern} vs {number}");
        }
    }

    #[test]
    fn invalid_patterns_report_kind_and_position() {
        let table: &[(&str, PatternErrorKind, usize)] = &[
            ("", PatternErrorKind::Empty, 1),
            ("12.3", PatternErrorKind::MisplacedDot, 3),
            (".", PatternErrorKind::MisplacedDot, 1),
            ("0[12", PatternErrorKind::UnclosedSet, 2),
            ("0[]", PatternErrorKind::EmptySet, 2),
            ("0[5-1]", PatternErrorKind::BadRange, 3),
            ("0[a]", PatternErrorKind::UnexpectedChar, 3),
            ("12a", PatternErrorKind::UnexpectedChar, 3),
            ("2xx", PatternErrorKind::UnexpectedChar, 2),
            ("1 2", PatternErrorKind::UnexpectedChar, 2),
        ];
        for (pattern, kind, position) in table {
            assert_eq!(
                DialPattern::parse(pattern),
                Err(PatternError {
                    kind: *kind,
                    position: *position
                }),
                "{pattern}"
            );
        }
    }

    #[test]
    fn literal_and_min_len() {
        let p = DialPattern::parse("*43").unwrap();
        assert_eq!(p.literal().as_deref(), Some("*43"));
        assert_eq!(p.min_len(), 3);
        let p = DialPattern::parse("00Z.").unwrap();
        assert_eq!(p.literal(), None);
        assert_eq!(p.min_len(), 4);
        assert_eq!(
            DialPattern::parse("2[0]1").unwrap().literal().as_deref(),
            Some("201")
        );
    }

    fn rule(name: &str, pattern: &str, strip: usize, prefix: &str, d: Destination) -> DialRule {
        DialRule {
            name: name.to_owned(),
            pattern: DialPattern::parse(pattern).unwrap(),
            strip,
            prefix: prefix.to_owned(),
            destination: d,
        }
    }

    type Expected<'a> = Option<(usize, &'a str, &'a str)>;

    #[test]
    fn dry_run_takes_the_first_matching_rule_and_rewrites() {
        let trunks = Destination::TrunkGroup(vec!["a".into(), "b".into()]);
        let plan = DialPlan {
            rules: vec![
                rule("nood", "112", 0, "", trunks.clone()),
                rule("echo", "*43", 0, "", Destination::EchoTest),
                rule("intern", "2XX", 0, "", Destination::Extension),
                rule("centrale", "9", 1, "200", Destination::Extension),
                rule("mobiel", "06XXXXXXXX", 1, "+31", trunks.clone()),
                rule("nationaal", "0ZXXXXXXXX", 1, "+31", trunks.clone()),
                rule("internationaal", "00Z.", 2, "+", trunks.clone()),
                rule("alles-met-2", "2.", 0, "", trunks.clone()),
            ],
        };
        let table: &[(&str, Expected<'_>)] = &[
            ("112", Some((0, "nood", "112"))),
            ("*43", Some((1, "echo", "*43"))),
            ("201", Some((2, "intern", "201"))),
            ("2011", Some((7, "alles-met-2", "2011"))),
            ("9", Some((3, "centrale", "200"))),
            ("0612345678", Some((4, "mobiel", "+31612345678"))),
            ("0201234567", Some((5, "nationaal", "+31201234567"))),
            ("0044207946000", Some((6, "internationaal", "+44207946000"))),
            ("0900", None),
            ("", None),
            ("abc", None),
        ];
        for (number, expected) in table {
            let got = plan.dry_run(number);
            match (got, expected) {
                (None, None) => {}
                (Some(m), Some((index, name, rewritten))) => {
                    assert_eq!(m.rule_index, *index, "{number}");
                    assert_eq!(m.rule_name, *name, "{number}");
                    assert_eq!(m.rewritten, *rewritten, "{number}");
                    assert_eq!(m.destination, &plan.rules[*index].destination);
                }
                (got, expected) => panic!("{number}: got {got:?}, expected {expected:?}"),
            }
        }
    }
}
