//! ABAC conditions on role assignments (conditionVersion 2.0), in the
//! subset of Azure's condition language ACR uses (acr-auth.md §6.6):
//!
//! ```text
//! (
//!  (
//!   !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})
//!  )
//!  OR
//!  (
//!   @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'team-a/'
//!  )
//! )
//! ```
//!
//! Grammar (keywords and operator names case-insensitive; `AND` binds
//! tighter than `OR`; `!`/`NOT` tightest):
//!
//! ```text
//! expr    := and ( ('OR' | '||') and )*
//! and     := unary ( ('AND' | '&&') unary )*
//! unary   := ('!' | 'NOT') unary | primary
//! primary := '(' expr ')'
//!          | 'ActionMatches' '{' string '}'
//!          | '@Request[' attribute ']' operator string
//! ```
//!
//! The only attribute is the repository name,
//! `Microsoft.ContainerRegistry/registries/repositories:name`. Operators:
//! `StringEquals`, `StringEqualsIgnoreCase`, `StringStartsWith`,
//! `StringStartsWithIgnoreCase`, `StringLike` (`*` any run, `?` one
//! character, `\*` and `\?` literal) and their `StringNot…` negations.
//!
//! A condition is parsed when the assignment is created, and a text that
//! does not parse is refused there with the position of the problem
//! ([`ConditionError`]); an assignment whose stored condition no longer
//! parses grants nothing (the caller drops it). Evaluation is plain
//! boolean logic for one data action and one repository name, so actions
//! not named by `ActionMatches` pass the usual `!(ActionMatches…) OR …`
//! shape unrestricted, exactly as Azure evaluates it.

use std::fmt;

/// The only condition version ACR accepts.
pub const CONDITION_VERSION: &str = "2.0";

/// The attribute conditions can test: the requested repository's name.
pub const REPOSITORY_NAME_ATTRIBUTE: &str =
    "Microsoft.ContainerRegistry/registries/repositories:name";

/// Longest condition text accepted (Azure's limit is 8 KiB).
const MAX_LENGTH: usize = 8192;
/// Deepest nesting of parentheses and negations accepted.
const MAX_DEPTH: usize = 64;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    text: String,
    expr: Expr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    ActionMatches(String),
    Repository { operator: Operator, value: String },
}

/// A string comparison operator of the condition language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringStartsWith,
    StringNotStartsWith,
    StringStartsWithIgnoreCase,
    StringNotStartsWithIgnoreCase,
    StringLike,
    StringNotLike,
}

impl Operator {
    const ALL: [Operator; 10] = [
        Operator::StringEquals,
        Operator::StringNotEquals,
        Operator::StringEqualsIgnoreCase,
        Operator::StringNotEqualsIgnoreCase,
        Operator::StringStartsWith,
        Operator::StringNotStartsWith,
        Operator::StringStartsWithIgnoreCase,
        Operator::StringNotStartsWithIgnoreCase,
        Operator::StringLike,
        Operator::StringNotLike,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operator::StringEquals => "StringEquals",
            Operator::StringNotEquals => "StringNotEquals",
            Operator::StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            Operator::StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            Operator::StringStartsWith => "StringStartsWith",
            Operator::StringNotStartsWith => "StringNotStartsWith",
            Operator::StringStartsWithIgnoreCase => "StringStartsWithIgnoreCase",
            Operator::StringNotStartsWithIgnoreCase => "StringNotStartsWithIgnoreCase",
            Operator::StringLike => "StringLike",
            Operator::StringNotLike => "StringNotLike",
        }
    }

    fn parse(word: &str) -> Option<Operator> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(word))
    }

    fn apply(self, actual: &str, value: &str) -> bool {
        let lower = |s: &str| s.to_lowercase();
        match self {
            Operator::StringEquals => actual == value,
            Operator::StringNotEquals => actual != value,
            Operator::StringEqualsIgnoreCase => lower(actual) == lower(value),
            Operator::StringNotEqualsIgnoreCase => lower(actual) != lower(value),
            Operator::StringStartsWith => actual.starts_with(value),
            Operator::StringNotStartsWith => !actual.starts_with(value),
            Operator::StringStartsWithIgnoreCase => lower(actual).starts_with(&lower(value)),
            Operator::StringNotStartsWithIgnoreCase => !lower(actual).starts_with(&lower(value)),
            Operator::StringLike => like(value, actual),
            Operator::StringNotLike => !like(value, actual),
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a condition was refused. `position` is the character offset (from
/// 0) in the condition text where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("conditionVersion {found:?} is not supported; use \"2.0\"")]
    UnsupportedVersion { found: String },
    #[error("a conditionVersion needs a condition")]
    VersionWithoutCondition,
    #[error("the condition is empty")]
    Empty,
    #[error("the condition is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the condition nests deeper than {max} levels at position {position}")]
    TooDeep { position: usize, max: usize },
    #[error("unterminated string at position {position}")]
    UnterminatedString { position: usize },
    #[error("unexpected character {found:?} at position {position}")]
    UnexpectedCharacter { position: usize, found: char },
    #[error("expected {expected} at position {position}, found {found}")]
    Unexpected {
        position: usize,
        expected: &'static str,
        found: String,
    },
    #[error(
        "unknown operator {found:?} at position {position}; expected one of StringEquals, \
         StringEqualsIgnoreCase, StringStartsWith, StringStartsWithIgnoreCase, StringLike, \
         StringNotEquals (and the other StringNot… forms)"
    )]
    UnknownOperator { position: usize, found: String },
    #[error(
        "unsupported attribute {found:?} at position {position}; ACR conditions test \
         @Request[Microsoft.ContainerRegistry/registries/repositories:name]"
    )]
    UnknownAttribute { position: usize, found: String },
    #[error("empty action in ActionMatches at position {position}")]
    EmptyAction { position: usize },
}

impl Condition {
    /// Parses a condition and its version (absent: 2.0, as Azure assumes).
    pub fn parse(text: &str, version: Option<&str>) -> Result<Condition, ConditionError> {
        if let Some(v) = version
            && v.trim() != CONDITION_VERSION
        {
            return Err(ConditionError::UnsupportedVersion {
                found: v.to_owned(),
            });
        }
        if text.chars().count() > MAX_LENGTH {
            return Err(ConditionError::TooLong { max: MAX_LENGTH });
        }
        let tokens = lex(text)?;
        if tokens.is_empty() {
            return Err(ConditionError::Empty);
        }
        let mut parser = Parser {
            tokens: &tokens,
            at: 0,
            end: text.chars().count(),
            depth: 0,
        };
        let expr = parser.or()?;
        if let Some(t) = parser.peek() {
            return Err(ConditionError::Unexpected {
                position: t.position,
                expected: "AND, OR or the end of the condition",
                found: t.kind.describe(),
            });
        }
        Ok(Condition {
            text: text.to_owned(),
            expr,
        })
    }

    /// The condition as it was written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Does the condition allow `data_action` on repository `repository`?
    pub fn allows(&self, data_action: &str, repository: &str) -> bool {
        eval(&self.expr, data_action, repository)
    }

    /// Whether `ActionMatches` names this data action anywhere (the
    /// condition restricts it); informational, for reasons and listings.
    pub fn names_action(&self, data_action: &str) -> bool {
        names(&self.expr, data_action)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn eval(e: &Expr, action: &str, repository: &str) -> bool {
    match e {
        Expr::Or(items) => items.iter().any(|i| eval(i, action, repository)),
        Expr::And(items) => items.iter().all(|i| eval(i, action, repository)),
        Expr::Not(inner) => !eval(inner, action, repository),
        Expr::ActionMatches(pattern) => crate::roles::glob(pattern, action),
        Expr::Repository { operator, value } => operator.apply(repository, value),
    }
}

fn names(e: &Expr, action: &str) -> bool {
    match e {
        Expr::Or(items) | Expr::And(items) => items.iter().any(|i| names(i, action)),
        Expr::Not(inner) => names(inner, action),
        Expr::ActionMatches(pattern) => crate::roles::glob(pattern, action),
        Expr::Repository { .. } => false,
    }
}

/// `StringLike`: `*` matches any run (also empty), `?` exactly one
/// character, a backslash makes the next character literal. Case-sensitive.
fn like(pattern: &str, s: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Any,
        One,
        Lit(char),
    }
    let mut pat = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        pat.push(match c {
            '*' => P::Any,
            '?' => P::One,
            '\\' => P::Lit(chars.next().unwrap_or('\\')),
            c => P::Lit(c),
        });
    }
    let s: Vec<char> = s.chars().collect();
    // Iterative wildcard match with backtracking to the last `*`.
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(P::Lit(c)) if *c == s[i] => {
                p += 1;
                i += 1;
            }
            Some(P::One) => {
                p += 1;
                i += 1;
            }
            Some(P::Any) => {
                star = Some((p, i));
                p += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|x| *x == P::Any)
}

// ---- lexer -----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    LParen,
    RParen,
    LBrace,
    RBrace,
    Not,
    And,
    Or,
    /// `@Request[<attribute>]`.
    Attribute(String),
    Word(String),
    Str(String),
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::LParen => "'('".into(),
            Kind::RParen => "')'".into(),
            Kind::LBrace => "'{'".into(),
            Kind::RBrace => "'}'".into(),
            Kind::Not => "'!'".into(),
            Kind::And => "AND".into(),
            Kind::Or => "OR".into(),
            Kind::Attribute(a) => format!("@Request[{a}]"),
            Kind::Word(w) => format!("{w:?}"),
            Kind::Str(s) => format!("the string '{s}'"),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    position: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, ConditionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let single = match c {
            '(' => Some(Kind::LParen),
            ')' => Some(Kind::RParen),
            '{' => Some(Kind::LBrace),
            '}' => Some(Kind::RBrace),
            '!' => Some(Kind::Not),
            _ => None,
        };
        if let Some(kind) = single {
            out.push(Token {
                kind,
                position: start,
            });
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '&' | '|' => {
                if chars.get(i + 1) != Some(&c) {
                    return Err(ConditionError::UnexpectedCharacter {
                        position: start,
                        found: c,
                    });
                }
                out.push(Token {
                    kind: if c == '&' { Kind::And } else { Kind::Or },
                    position: start,
                });
                i += 2;
            }
            '\'' => {
                // Single-quoted; a quote inside is written twice? Azure has
                // no escape in this position, so the first quote ends it.
                let mut j = i + 1;
                let mut s = String::new();
                loop {
                    match chars.get(j) {
                        None => return Err(ConditionError::UnterminatedString { position: start }),
                        Some('\'') => break,
                        Some(ch) => s.push(*ch),
                    }
                    j += 1;
                }
                out.push(Token {
                    kind: Kind::Str(s),
                    position: start,
                });
                i = j + 1;
            }
            '@' => {
                // `@Request[` … `]`; the source word is case-insensitive.
                let mut j = i + 1;
                let mut source = String::new();
                while let Some(ch) = chars.get(j).filter(|ch| ch.is_ascii_alphabetic()) {
                    source.push(*ch);
                    j += 1;
                }
                if chars.get(j) != Some(&'[') {
                    return Err(ConditionError::Unexpected {
                        position: start,
                        expected: "@Request[…]",
                        found: format!("@{source}"),
                    });
                }
                if !source.eq_ignore_ascii_case("Request") {
                    return Err(ConditionError::UnknownAttribute {
                        position: start,
                        found: format!("@{source}"),
                    });
                }
                let mut attribute = String::new();
                j += 1;
                loop {
                    match chars.get(j) {
                        None => {
                            return Err(ConditionError::Unexpected {
                                position: j,
                                expected: "']'",
                                found: "the end of the condition".into(),
                            });
                        }
                        Some(']') => break,
                        Some(ch) => attribute.push(*ch),
                    }
                    j += 1;
                }
                let attribute = attribute.trim().to_owned();
                if !attribute.eq_ignore_ascii_case(REPOSITORY_NAME_ATTRIBUTE) {
                    return Err(ConditionError::UnknownAttribute {
                        position: start,
                        found: attribute,
                    });
                }
                out.push(Token {
                    kind: Kind::Attribute(attribute),
                    position: start,
                });
                i = j + 1;
            }
            c if c.is_ascii_alphabetic() => {
                let mut j = i;
                let mut w = String::new();
                while let Some(ch) = chars.get(j).filter(|ch| ch.is_ascii_alphanumeric()) {
                    w.push(*ch);
                    j += 1;
                }
                let kind = if w.eq_ignore_ascii_case("AND") {
                    Kind::And
                } else if w.eq_ignore_ascii_case("OR") {
                    Kind::Or
                } else if w.eq_ignore_ascii_case("NOT") {
                    Kind::Not
                } else {
                    Kind::Word(w)
                };
                out.push(Token {
                    kind,
                    position: start,
                });
                i = j;
            }
            c => {
                return Err(ConditionError::UnexpectedCharacter {
                    position: start,
                    found: c,
                });
            }
        }
    }
    Ok(out)
}

// ---- parser ----------------------------------------------------------------

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    /// Character length of the text, for "unexpected end" positions.
    end: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self, expected: &'static str) -> Result<Token, ConditionError> {
        match self.tokens.get(self.at) {
            Some(t) => {
                self.at += 1;
                Ok(t.clone())
            }
            None => Err(ConditionError::Unexpected {
                position: self.end,
                expected,
                found: "the end of the condition".into(),
            }),
        }
    }

    fn expect(&mut self, kind: Kind, expected: &'static str) -> Result<(), ConditionError> {
        let t = self.next(expected)?;
        if t.kind == kind {
            Ok(())
        } else {
            Err(ConditionError::Unexpected {
                position: t.position,
                expected,
                found: t.kind.describe(),
            })
        }
    }

    fn enter(&mut self, position: usize) -> Result<(), ConditionError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ConditionError::TooDeep {
                position,
                max: MAX_DEPTH,
            });
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ConditionError> {
        let mut items = vec![self.and()?];
        while self.peek().is_some_and(|t| t.kind == Kind::Or) {
            self.at += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, ConditionError> {
        let mut items = vec![self.unary()?];
        while self.peek().is_some_and(|t| t.kind == Kind::And) {
            self.at += 1;
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn unary(&mut self) -> Result<Expr, ConditionError> {
        const WHAT: &str = "'(', '!', ActionMatches{…} or @Request[…]";
        let t = self.next(WHAT)?;
        match t.kind {
            Kind::Not => {
                self.enter(t.position)?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(inner)))
            }
            Kind::LParen => {
                self.enter(t.position)?;
                let inner = self.or()?;
                self.expect(Kind::RParen, "')'")?;
                self.depth -= 1;
                Ok(inner)
            }
            Kind::Word(w) if w.eq_ignore_ascii_case("ActionMatches") => {
                self.expect(Kind::LBrace, "'{' after ActionMatches")?;
                let s = self.next("a quoted action")?;
                let action = match s.kind {
                    Kind::Str(a) => a,
                    other => {
                        return Err(ConditionError::Unexpected {
                            position: s.position,
                            expected: "a quoted action",
                            found: other.describe(),
                        });
                    }
                };
                if action.trim().is_empty() {
                    return Err(ConditionError::EmptyAction {
                        position: s.position,
                    });
                }
                self.expect(Kind::RBrace, "'}'")?;
                Ok(Expr::ActionMatches(action.trim().to_owned()))
            }
            Kind::Attribute(_) => {
                let op = self.next("an operator such as StringStartsWith")?;
                let operator = match &op.kind {
                    Kind::Word(w) => {
                        Operator::parse(w).ok_or_else(|| ConditionError::UnknownOperator {
                            position: op.position,
                            found: w.clone(),
                        })?
                    }
                    other => {
                        return Err(ConditionError::Unexpected {
                            position: op.position,
                            expected: "an operator such as StringStartsWith",
                            found: other.describe(),
                        });
                    }
                };
                let v = self.next("a quoted value")?;
                match v.kind {
                    Kind::Str(value) => Ok(Expr::Repository { operator, value }),
                    other => Err(ConditionError::Unexpected {
                        position: v.position,
                        expected: "a quoted value",
                        found: other.describe(),
                    }),
                }
            }
            other => Err(ConditionError::Unexpected {
                position: t.position,
                expected: WHAT,
                found: other.describe(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ: &str = "Microsoft.ContainerRegistry/registries/repositories/content/read";
    const WRITE: &str = "Microsoft.ContainerRegistry/registries/repositories/content/write";

    #[test]
    fn like_wildcards() {
        for (p, s, want) in [
            ("team-a/*", "team-a/x", true),
            ("team-a/*", "team-a/", true),
            ("team-a/*", "team-ab/x", false),
            ("*", "", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*/app", "x/y/app", true),
            ("*/app", "x/y/apps", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("A*", "a", false),
        ] {
            assert_eq!(like(p, s), want, "{p} ~ {s}");
        }
    }

    #[test]
    fn the_documented_shape() {
        let c = Condition::parse(
            "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) \
             AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) \
             OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEqualsIgnoreCase 'hello-world'))",
            Some("2.0"),
        )
        .expect("parses");
        assert!(c.allows(READ, "hello-world"));
        assert!(c.allows(READ, "Hello-World"));
        assert!(!c.allows(READ, "other"));
        // Not named by ActionMatches: unrestricted.
        assert!(c.allows(WRITE, "other"));
        assert!(c.names_action(READ));
        assert!(!c.names_action(WRITE));
    }

    #[test]
    fn errors_have_positions() {
        let e = |t: &str| Condition::parse(t, None).expect_err(t);
        assert_eq!(e(""), ConditionError::Empty);
        assert_eq!(e("   "), ConditionError::Empty);
        assert!(matches!(
            e("(ActionMatches{'x'}"),
            ConditionError::Unexpected { position: 19, .. }
        ));
        assert!(matches!(
            e("ActionMatches{'x"),
            ConditionError::UnterminatedString { position: 14 }
        ));
        assert!(matches!(
            e(
                "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringBeginsWith 'a'"
            ),
            ConditionError::UnknownOperator { position: 67, .. }
        ));
        assert!(matches!(
            e(
                "@Resource[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'a'"
            ),
            ConditionError::UnknownAttribute { position: 0, .. }
        ));
        assert!(matches!(
            e("@Request[Microsoft.Storage/x:name] StringEquals 'a'"),
            ConditionError::UnknownAttribute { .. }
        ));
        assert!(matches!(
            e("ActionMatches{'x'} ActionMatches{'y'}"),
            ConditionError::Unexpected { position: 19, .. }
        ));
        assert!(matches!(
            e("ActionMatches{'x'} & ActionMatches{'y'}"),
            ConditionError::UnexpectedCharacter { position: 19, .. }
        ));
        assert!(matches!(
            e("ActionMatches{''}"),
            ConditionError::EmptyAction { .. }
        ));
        assert!(matches!(
            e(&"(".repeat(100)),
            ConditionError::TooDeep { .. }
        ));
        assert!(matches!(
            e(&"!".repeat(100)),
            ConditionError::TooDeep { .. }
        ));
        assert!(matches!(
            Condition::parse("ActionMatches{'x'}", Some("1.0")),
            Err(ConditionError::UnsupportedVersion { .. })
        ));
        assert!(
            e("ActionMatches{'x'} AND")
                .to_string()
                .contains("end of the condition")
        );
    }

    #[test]
    fn precedence_and_keywords() {
        // a OR b AND c  ==  a OR (b AND c)
        let c = Condition::parse(
            "@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'a' or \
             @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWith 'b' && \
             NOT @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'bad'",
            None,
        )
        .expect("parses");
        assert!(c.allows(READ, "a"));
        assert!(c.allows(READ, "bx"));
        assert!(!c.allows(READ, "bad"));
        assert!(!c.allows(READ, "c"));
    }
}
