//! One definition per kind of step or gate: an enum of the keywords users write, so that every
//! match over kinds is exhaustive and a new kind that forgets a behaviour does not compile.

/// Defines a keyword enum: its variants, `ALL`, `NAMES`, `keyword()` and `from_keyword()`.
macro_rules! keyword_enum {
    ($(#[$doc:meta])* $vis:vis enum $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $text:literal, )* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vdoc])* $variant, )*
        }

        impl $name {
            /// Every kind, in the order the language reference lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// Every keyword, in the same order.
            pub const NAMES: &'static [&'static str] = &[$($text,)*];

            /// The keyword as written in a plan.
            pub fn keyword(self) -> &'static str {
                match self { $( $name::$variant => $text, )* }
            }

            /// The kind a keyword names.
            pub fn from_keyword(word: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|k| k.keyword() == word)
            }
        }
    };
}

pub(crate) use keyword_enum;
