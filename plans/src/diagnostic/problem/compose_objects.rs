//! Problems with a compose file's networks, volumes, configs and secrets and the mounts services
//! make of them (`compose/objects.rs`, `volumes.rs`), in docker's words where it has some. A
//! text carried in a variant (`why`) comes from the reader's parser of docker's volume syntax.

use super::Words;
use super::compose::error_;
use crate::diagnostic::Code;
use crate::span::Span;

/// A problem with a top-level object or a mount. `kind` is `volume`, `config` or `secret`.
#[derive(Debug, Clone, PartialEq)]
pub enum ComposeObjectProblem<'a> {
    /// `ipam.config` that is not a list.
    IpamConfigNotAList,
    /// An external volume with a parameter (`param`) that only a created one takes.
    ExternalConflict { param: &'a str, volume: &'a str },
    /// A config or secret with both `driver` and `file`.
    DriverAndFile { kind: &'a str, name: &'a str },
    /// A config or secret with no content; a secret may have a `driver`.
    NoContent { kind: &'a str, name: &'a str, is_config: bool },
    /// Both `external.name` and `name`.
    ExternalNameConflict { kind: &'a str, name: &'a str },
    /// The old `external.name` (`old`).
    ExternalNameDeprecated { kind: &'a str, name: &'a str, old: &'a str },
    /// A service's volumes that are not a list.
    VolumesNotAList { what: &'a str },
    /// A short-form option docker drops.
    DroppedMountOption { option: &'a str, mount: &'a str },
    /// A short-form volume docker does not read, and why.
    BadShortVolume { why: &'a str },
    /// Two mounts at one target; the first is at `first`.
    DuplicateMountPoint { target: &'a str, first: Span },
    /// A bind propagation Swarm does not know; `allowed` are those it knows.
    UnknownPropagation { propagation: &'a str, allowed: &'a [&'a str] },
    /// A long-form volume without `type`.
    NoMountType,
    /// A mount type Swarm does not know; `best` is the closest.
    UnknownMountType { best: Option<&'a str> },
    /// A mount without `target`.
    NoMountTarget,
    /// A bind mount without `source`.
    BindWithoutSource,
    /// `~` in a path with HOME unset.
    HomeUnset,
    /// Options of one type (`options`) on a mount of another (`kind`).
    IncompatibleOptions { options: &'a str, kind: &'a str },
    /// A tmpfs mount with a source.
    TmpfsWithSource,
    /// A mount of `kind` without the source it needs.
    EmptySource { kind: &'a str },
}

impl ComposeObjectProblem<'_> {
    /// What a diagnostic of this problem says.
    pub fn words(&self) -> Words {
        use ComposeObjectProblem::*;
        match *self {
            IpamConfigNotAList => {
                error_("`ipam.config` must be a list", "not a list").help("write `- subnet: 10.0.9.0/24`")
            }
            ExternalConflict { param, volume } => error_(
                format!("conflicting parameters \"external\" and \"{param}\" specified for volume \"{volume}\""),
                "with external",
            )
            .help("an external volume exists already: remove this, or remove `external`"),
            DriverAndFile { kind, name } => error_(
                format!("{kind} {name}: {kind}.driver and {kind}.file conflict; only use {kind}.driver"),
                "with a driver",
            )
            .help("a secret store driver holds the value: remove `file`"),
            NoContent { kind, name, is_config } => {
                let or_driver = if is_config { "" } else { ", `driver`" };
                error_(format!("{kind} `{name}` has no `file`{or_driver} or `external: true`"), "no content")
                    .help(format!("add `file: ./{name}` (relative to the compose file)"))
            }
            ExternalNameConflict { kind, name } => error_(
                format!("{kind} {name}: {kind}.external.name and {kind}.name conflict; only use {kind}.name"),
                "conflicts with `name`",
            )
            .help("remove `external.name`"),
            ExternalNameDeprecated { kind, name, old } => Words::warning(
                Code::ComposeFile,
                format!("{kind} {name}: {kind}.external.name is deprecated in favor of {kind}.name"),
                "deprecated",
            )
            .help(format!("write `name: {old}` and `external: true`")),
            VolumesNotAList { what } => {
                error_(format!("{what} must be a list"), "not a list").help("write `- data:/var/lib/data`")
            }
            DroppedMountOption { option, mount } => Words::warning(
                Code::ComposeFile,
                format!("docker stack deploy silently drops the option `{option}` of `{mount}`, and so does planrun"),
                "option not applied",
            )
            .help("the short form takes `ro`, `rw`, `nocopy` and a bind propagation (`rshared`, ...)"),
            BadShortVolume { why } => {
                error_(why, "not a volume").help("write `SOURCE:TARGET[:ro]`, such as `data:/var/lib/data`")
            }
            DuplicateMountPoint { target, first } => {
                error_(format!("duplicate mount point: {target}"), "mounted here again")
                    .note(first, "first mounted here")
                    .help("Swarm refuses two mounts at one path (the daemon's words): give each its own target")
            }
            UnknownPropagation { propagation, allowed } => {
                error_(format!("`{propagation}` is not a bind propagation Swarm knows"), "unknown propagation")
                    .help(format!("write one of: {}", allowed.join(", ")))
            }
            NoMountType => error_("a volume in the long form needs `type`", "no type")
                .help("add `type: volume`, `bind` or `tmpfs`"),
            UnknownMountType { best } => {
                error_("volume type must be volume, bind, tmpfs, npipe, or cluster", "unknown type").help(
                    best.map_or_else(
                        || "write `type: volume`, `bind` or `tmpfs`".to_owned(),
                        |n| format!("did you mean `{n}`?"),
                    ),
                )
            }
            NoMountTarget => {
                error_("a volume needs `target`: the path in the container", "no target").help("add `target: /data`")
            }
            BindWithoutSource => {
                error_("invalid mount config for type \"bind\": field Source must not be empty", "no source")
                    .help("add `source: ./data` (relative to the compose file)")
            }
            HomeUnset => Words::warning(
                Code::ComposeFile,
                "cannot expand `~`: the environment has no HOME (docker leaves it as it is, too)",
                "not expanded",
            )
            .help("set HOME, or write the path in full"),
            IncompatibleOptions { options, kind } => {
                error_(format!("{options} options are incompatible with type {kind}"), "here")
                    .help(format!("remove the `{options}` options, or change `type`"))
            }
            TmpfsWithSource => error_("invalid tmpfs source, source must be empty", "a source").help("remove `source`"),
            EmptySource { kind } => {
                error_(format!("invalid {kind} source, source cannot be empty"), "no source").help("add `source`")
            }
        }
    }
}
