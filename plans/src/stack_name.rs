//! Stack names as Docker allows them, checked once for the plan's `stack` and for every command
//! that takes a stack on the command line: the name becomes a directory under the state
//! directory (`<state>/runs/<stack>/`) and a part of Swarm object names, so a name Docker
//! refuses (or `../x`) must stop before anything is named after it.
//!
//! Docker names a stack's services and networks `<stack>_<name>`. The docker CLI checks only that
//! a stack name is not blank (docker/cli `cli/command/stack/common.go`, `validateStackName`);
//! Swarm then refuses a service or network whose name does not match
//! `^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$` or is longer than 63 characters (moby/swarmkit
//! `manager/controlapi/common.go`, `validateAnnotations`: "name must be valid as a DNS name
//! component"). A stack name that makes such names is that pattern itself: letters, digits,
//! `-` and `_`, starting and ending with a letter or digit. No `.`: Swarm refuses dots in service
//! names for good (moby/swarmkit#2437).

use std::fmt;

/// The longest stack name: planrun keeps a stack's approval in a config named
/// `planrun-answer-<stack>`, and Swarm refuses config names over 64 characters
/// (`validateConfigOrSecretAnnotations`), so 64 - 15. Docker's own limit is 61
/// (`<stack>_x` within 63).
pub const MAX_LEN: usize = 49;

/// What a stack name may be, in words.
pub const RULE: &str = "1 to 49 ASCII letters, digits, `-` and `_`, starting and ending with a letter or digit (Docker's rule for the services it names after the stack)";

/// Why a stack name is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackNameError {
    /// The name is empty.
    Empty,
    /// A character that is no ASCII letter, digit, `-` or `_`.
    Character(char),
    /// The name starts with `-` or `_`.
    Start(char),
    /// The name ends with `-` or `_`.
    End(char),
    /// The name has this many characters, more than [`MAX_LEN`].
    TooLong(usize),
}

impl StackNameError {
    /// What is wrong, without the rule: `it holds '/'`.
    pub fn fault(&self) -> String {
        match self {
            StackNameError::Empty => "it is empty".into(),
            StackNameError::Character(c) => format!("it holds {}", shown(*c)),
            StackNameError::Start(c) => format!("it starts with {}", shown(*c)),
            StackNameError::End(c) => format!("it ends with {}", shown(*c)),
            StackNameError::TooLong(n) => format!("it has {n} characters, more than {MAX_LEN}"),
        }
    }
}

impl fmt::Display for StackNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: a stack name is {RULE}", self.fault())
    }
}

impl std::error::Error for StackNameError {}

/// A character as a message shows it: `'/'`, a space, `'\0'`.
fn shown(c: char) -> String {
    if c == ' ' { "a space".into() } else { format!("{c:?}") }
}

/// Whether `name` is a stack name Docker and planrun accept; the error says why not.
pub fn check(name: &str) -> Result<(), StackNameError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let (Some(first), Some(last)) = (name.chars().next(), name.chars().last()) else {
        return Err(StackNameError::Empty);
    };
    if let Some(c) = name.chars().find(|c| !allowed(*c)) {
        return Err(StackNameError::Character(c));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(StackNameError::Start(first));
    }
    if !last.is_ascii_alphanumeric() {
        return Err(StackNameError::End(last));
    }
    if name.len() > MAX_LEN {
        return Err(StackNameError::TooLong(name.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_docker_accepts_pass() {
        let longest = "a".repeat(MAX_LEN);
        for name in ["shop", "shop-prod", "shop_prod", "a_b-c", "Shop2", "7", "a--b", "a__b", "a-_b", &longest] {
            assert_eq!(check(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn names_docker_or_a_path_would_trip_on_are_refused_with_the_reason() {
        use StackNameError::*;
        let too_long = "a".repeat(MAX_LEN + 1);
        let cases: &[(&str, StackNameError)] = &[
            ("", Empty),
            ("../x", Character('.')),
            ("..", Character('.')),
            ("a/b", Character('/')),
            ("a\\b", Character('\\')),
            ("a\0b", Character('\0')),
            ("a b", Character(' ')),
            (" shop", Character(' ')),
            ("shop\n", Character('\n')),
            ("a.b_c", Character('.')),
            ("shöp", Character('ö')),
            ("-x", Start('-')),
            ("_x", Start('_')),
            (".x", Character('.')),
            ("x-", End('-')),
            ("x_", End('_')),
            (&too_long, TooLong(MAX_LEN + 1)),
        ];
        for (name, why) in cases {
            assert_eq!(check(name).as_ref(), Err(why), "{name:?}");
        }
    }

    #[test]
    fn the_error_says_what_is_wrong_and_what_is_allowed() {
        assert_eq!(check("../x").unwrap_err().to_string(), format!("it holds '.': a stack name is {RULE}"),);
        assert_eq!(check("a b").unwrap_err().fault(), "it holds a space");
        assert_eq!(check("").unwrap_err().fault(), "it is empty");
        assert_eq!(check(&"x".repeat(64)).unwrap_err().fault(), "it has 64 characters, more than 49");
    }

    #[test]
    fn the_rule_in_words_names_the_limit() {
        assert!(RULE.starts_with(&format!("1 to {MAX_LEN} ")), "{RULE}");
    }
}
