//! A service's `volumes`, as docker reads them: the short form through `ParseVolume`
//! (`[SOURCE:]TARGET[:OPTIONS]`; a source starting with `.`, `/` or `~` is a bind, any other a
//! named volume, none an anonymous volume), the long form as written; bind sources made
//! absolute against the compose file's directory with `~` as `$HOME`; and the combinations
//! docker's converter refuses (`bind options are incompatible with type volume`, ...) refused
//! here, at their line.

use super::keys;
use super::yaml::{Node, Value};
use super::{BindOptions, Mount, MountKind, Reader, TmpfsOptions, VolumeOptions, values};
use crate::diagnostic::problem::ComposeObjectProblem;
use crate::span::Span;

/// Bind propagations docker knows.
const PROPAGATIONS: &[&str] = &["rprivate", "private", "rshared", "shared", "rslave", "slave"];

/// The short form, as docker's `ParseVolume` reads it: the mount, and the options docker
/// ignores (anything but `ro`, `rw`, `nocopy` and a propagation).
pub fn short(spec: &str) -> Result<(Mount, Vec<String>), String> {
    let mut m = Mount::default();
    let mut ignored = Vec::new();
    match spec.len() {
        0 => return Err("invalid empty volume spec".into()),
        1 | 2 => {
            m.target = spec.to_owned();
            return Ok((m, ignored));
        }
        _ => {}
    }
    let mut fields: Vec<String> = Vec::new();
    let mut buffer = String::new();
    let chars: Vec<char> = spec.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        // `C:\path`: a Windows drive's colon is part of the path.
        let drive = c == ':' && buffer.chars().count() == 1 && buffer.chars().all(char::is_alphabetic);
        if c == ':' && !drive {
            fields.push(std::mem::take(&mut buffer));
        } else {
            buffer.push(c);
        }
        if i + 1 == chars.len() {
            fields.push(std::mem::take(&mut buffer));
        }
    }
    if fields.iter().any(String::is_empty) {
        return Err(format!("invalid spec: {spec}: empty section between colons"));
    }
    match fields.as_slice() {
        [target] => m.target = target.clone(),
        [source, target] => {
            m.source = Some(source.clone());
            m.target = target.clone();
        }
        [source, target, options] => {
            m.source = Some(source.clone());
            m.target = target.clone();
            for option in options.split(',') {
                match option {
                    "ro" => m.read_only = true,
                    "rw" => m.read_only = false,
                    "nocopy" => m.volume = Some(VolumeOptions { nocopy: true }),
                    p if PROPAGATIONS.contains(&p) => m.bind = Some(BindOptions { propagation: Some(p.to_owned()) }),
                    other => ignored.push(other.to_owned()),
                }
            }
        }
        _ => return Err(format!("invalid spec: {spec}: too many colons")),
    }
    m.kind = match m.source.as_deref() {
        Some(s) if is_file_path(s) => MountKind::Bind,
        _ => MountKind::Volume,
    };
    Ok((m, ignored))
}

/// docker's `isFilePath`: starts with `.`, `/` or `~`, a Windows drive or a `\\` pipe.
fn is_file_path(source: &str) -> bool {
    let mut chars = source.chars();
    match chars.next() {
        Some('.' | '/' | '~') => true,
        Some(first) => {
            let second = chars.next();
            source.starts_with(r"\\") || (first.is_alphabetic() && second == Some(':'))
        }
        None => false,
    }
}

impl Reader<'_> {
    pub(super) fn mounts(&mut self, node: &Node, what: &str) -> Vec<Mount> {
        let Value::Seq(items) = &node.value else {
            if !node.is_null() {
                self.problem(ComposeObjectProblem::VolumesNotAList { what }, node.span);
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let mount = match &item.value {
                Value::Map(m) => self.long_mount(m, item.span),
                _ => {
                    let Some(s) = self.string(item, what) else { continue };
                    match short(&s.value) {
                        Ok((mut m, ignored)) => {
                            for option in ignored {
                                let problem =
                                    ComposeObjectProblem::DroppedMountOption { option: &option, mount: &s.value };
                                self.problem(problem, item.span);
                            }
                            m.span = item.span;
                            m.source_span = item.span;
                            Some(m)
                        }
                        Err(why) => {
                            self.problem(ComposeObjectProblem::BadShortVolume { why: &why }, item.span);
                            None
                        }
                    }
                }
            };
            let Some(mut m) = mount else { continue };
            if m.kind == MountKind::Bind {
                m.relative = m.source.as_deref().is_some_and(|s| !s.starts_with('/'));
                m.source = m.source.take().map(|s| self.bind_source(&s, m.source_span));
            }
            if !self.compatible(&m) {
                continue;
            }
            let target = values::clean(&m.target);
            if let Some(first) = out.iter().find(|o: &&Mount| values::clean(&o.target) == target) {
                let first = first.span;
                self.problem(ComposeObjectProblem::DuplicateMountPoint { target: &m.target, first }, m.span);
            }
            out.push(m);
        }
        out
    }

    fn long_mount(&mut self, map: &[(super::yaml::Key, Node)], span: Span) -> Option<Mount> {
        let mut m = Mount { span, source_span: span, ..Mount::default() };
        let mut kind = None;
        for (key, value) in map {
            let what = format!("`{}` of a volume", key.text);
            match key.text.as_str() {
                "type" => {
                    kind = self.string(value, &what).map(|t| (t.value, value.span));
                }
                "source" => {
                    m.source = self.optional_string(value, &what).filter(|s| !s.is_empty());
                    m.source_span = value.span;
                }
                "target" => m.target = self.optional_string(value, &what).unwrap_or_default(),
                "read_only" => m.read_only = self.boolean(value, &what).unwrap_or(false),
                "consistency" => m.consistency = self.optional_string(value, &what),
                "bind" => {
                    let mut b = BindOptions::default();
                    for (k, v) in self.map(value, "`bind`") {
                        match k.text.as_str() {
                            "propagation" => {
                                b.propagation = self.optional_string(v, "`bind.propagation`");
                                if let Some(p) = b.propagation.as_deref().filter(|p| !PROPAGATIONS.contains(p)) {
                                    let problem = ComposeObjectProblem::UnknownPropagation {
                                        propagation: p,
                                        allowed: PROPAGATIONS,
                                    };
                                    self.problem(problem, v.span);
                                }
                            }
                            _ => self.other_key(k, "in `bind`", &[], true),
                        }
                    }
                    m.bind = Some(b);
                }
                "volume" => {
                    let mut o = VolumeOptions::default();
                    for (k, v) in self.map(value, "`volume`") {
                        match k.text.as_str() {
                            "nocopy" => o.nocopy = self.boolean(v, "`volume.nocopy`").unwrap_or(false),
                            _ => self.other_key(k, "in `volume`", &[], true),
                        }
                    }
                    m.volume = Some(o);
                }
                "tmpfs" => {
                    let mut t = TmpfsOptions::default();
                    for (k, v) in self.map(value, "`tmpfs`") {
                        match k.text.as_str() {
                            "size" => t.size = self.count(v, "`tmpfs.size` (bytes)").map(|n| n as i64),
                            _ => self.other_key(k, "in `tmpfs`", &[], true),
                        }
                    }
                    m.tmpfs = Some(t);
                }
                _ => self.other_key(key, "in a volume", keys::MOUNT, false),
            }
        }
        let Some((kind, at)) = kind else {
            self.problem(ComposeObjectProblem::NoMountType, span);
            return None;
        };
        m.kind = match kind.as_str() {
            "volume" | "" => MountKind::Volume,
            "bind" => MountKind::Bind,
            "tmpfs" => MountKind::Tmpfs,
            "npipe" => MountKind::Npipe,
            "cluster" => MountKind::Cluster,
            "image" => MountKind::Image,
            other => {
                let best = crate::suggest::did_you_mean(other, ["volume", "bind", "tmpfs", "npipe", "cluster"]);
                self.problem(ComposeObjectProblem::UnknownMountType { best }, at);
                return None;
            }
        };
        if m.target.is_empty() {
            self.problem(ComposeObjectProblem::NoMountTarget, span);
            return None;
        }
        if m.kind == MountKind::Bind && m.source.is_none() {
            self.problem(ComposeObjectProblem::BindWithoutSource, span);
            return None;
        }
        Some(m)
    }

    /// A bind source as docker makes it: `~` is `$HOME`, and a relative path is joined to the
    /// compose file's directory.
    fn bind_source(&mut self, source: &str, span: Span) -> String {
        let mut path = source.to_owned();
        if let Some(rest) = source.strip_prefix('~') {
            match (self.lookup)("HOME") {
                Some(home) => path = format!("{home}{rest}"),
                None => self.problem(ComposeObjectProblem::HomeUnset, span),
            }
        }
        values::absolute(self.dir, &path)
    }

    /// Whether the mount's options fit its type, as docker's converter checks them.
    fn compatible(&mut self, m: &Mount) -> bool {
        let kind = m.kind.as_str();
        let mut wrong = |options: &str| {
            self.problem(ComposeObjectProblem::IncompatibleOptions { options, kind }, m.span);
            false
        };
        let volume_ok = matches!(m.kind, MountKind::Volume) || m.volume.is_none();
        let bind_ok = matches!(m.kind, MountKind::Bind | MountKind::Npipe) || m.bind.is_none();
        let tmpfs_ok = matches!(m.kind, MountKind::Tmpfs) || m.tmpfs.is_none();
        if !volume_ok {
            return wrong("volume");
        }
        if !bind_ok {
            return wrong("bind");
        }
        if !tmpfs_ok {
            return wrong("tmpfs");
        }
        match m.kind {
            MountKind::Tmpfs if m.source.is_some() => {
                self.problem(ComposeObjectProblem::TmpfsWithSource, m.source_span);
                false
            }
            MountKind::Npipe | MountKind::Cluster | MountKind::Image if m.source.is_none() => {
                self.problem(ComposeObjectProblem::EmptySource { kind }, m.span);
                false
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_form_as_docker_reads_it() {
        let (m, _) = short("/var/lib/mysql").unwrap();
        assert_eq!((m.kind, m.source, m.target.as_str()), (MountKind::Volume, None, "/var/lib/mysql"));
        let (m, _) = short("datavolume:/var/lib/mysql").unwrap();
        assert_eq!((m.kind, m.source.as_deref()), (MountKind::Volume, Some("datavolume")));
        let (m, _) = short("./static:/var/www/html").unwrap();
        assert_eq!((m.kind, m.source.as_deref()), (MountKind::Bind, Some("./static")));
        let (m, _) = short("~/configs:/etc/configs/:ro").unwrap();
        assert_eq!((m.kind, m.read_only, m.target.as_str()), (MountKind::Bind, true, "/etc/configs/"));
        let (m, ignored) = short("data:/d:nocopy,z,rshared").unwrap();
        assert_eq!(m.volume, Some(VolumeOptions { nocopy: true }));
        assert_eq!(m.bind.unwrap().propagation.as_deref(), Some("rshared"));
        assert_eq!(ignored, ["z"]);
        let (m, _) = short("c:\\data:/data").unwrap();
        assert_eq!((m.kind, m.source.as_deref()), (MountKind::Bind, Some("c:\\data")));
        assert_eq!(short("/a").unwrap().0.target, "/a");
        assert_eq!(short("ab").unwrap().0.target, "ab");
    }

    #[test]
    fn short_forms_docker_refuses() {
        assert_eq!(short("").unwrap_err(), "invalid empty volume spec");
        assert!(short("ab::c").unwrap_err().contains("empty section between colons"));
        // `a:` reads as a Windows drive, as docker reads it.
        assert_eq!(short("a::b").unwrap().0.source.as_deref(), Some("a:"));
        assert!(short("ab:/b:ro:x").unwrap_err().contains("too many colons"));
    }
}
