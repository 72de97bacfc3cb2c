//! A closed list of words users write (`allow-removing mounts ports ...`) as an enum, so every
//! match over them is exhaustive. Step, gate and switch kinds have registries of their own
//! (`steps::step_kinds!`, `gates::gate_kinds!`, `steps::switch::switch_kinds!`), which derive
//! the same lists from each kind's definition.

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
