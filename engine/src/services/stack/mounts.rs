//! A service's `volumes` as Swarm mounts, the way the docker CLI converts them
//! (`convert/volume.go`). A named volume is `STACK_KEY` (or its `name`) with the namespace label,
//! its own labels and its driver in the mount's volume options: Swarm has no volume objects,
//! so the node a task lands on creates the volume from these options, as it does for
//! `docker stack deploy`. An external volume is mounted by name only, an anonymous one gets no
//! options (docker drops `nocopy` there).

use bollard::models::{
    Mount, MountBindOptions, MountBindOptionsPropagationEnum as Propagation, MountTmpfsOptions, MountType,
    MountVolumeOptions, MountVolumeOptionsDriverConfig,
};
use plans::compose::{self, ComposeFile, MountKind};

use super::{scoped, stack_labels};

/// The mounts of `volumes`, in file order.
pub fn mounts(stack: &str, file: &ComposeFile, volumes: &[compose::Mount]) -> Vec<Mount> {
    volumes.iter().map(|m| mount(stack, file, m)).collect()
}

fn mount(stack: &str, file: &ComposeFile, m: &compose::Mount) -> Mount {
    let mut out = Mount {
        target: Some(m.target.clone()),
        source: m.source.clone(),
        typ: Some(match m.kind {
            MountKind::Volume => MountType::VOLUME,
            MountKind::Bind => MountType::BIND,
            MountKind::Tmpfs => MountType::TMPFS,
            MountKind::Npipe => MountType::NPIPE,
            MountKind::Cluster => MountType::CLUSTER,
            MountKind::Image => MountType::IMAGE,
        }),
        read_only: Some(m.read_only).filter(|r| *r),
        consistency: m.consistency.clone().filter(|c| !c.is_empty()),
        ..Mount::default()
    };
    let def = |key: &str| file.volume(key);
    match m.kind {
        MountKind::Volume => {
            let Some(key) = m.source.as_deref() else { return out };
            let Some(v) = def(key) else { return out };
            out.source = Some(scoped(stack, key, v.name.as_deref()));
            let mut options = MountVolumeOptions {
                no_copy: m.volume.as_ref().map(|o| o.nocopy).filter(|n| *n),
                ..MountVolumeOptions::default()
            };
            if !v.external {
                options.labels = Some(stack_labels(stack, &v.labels));
                if v.driver.as_deref().is_some_and(|d| !d.is_empty()) || v.driver_opts.is_some() {
                    options.driver_config = Some(MountVolumeOptionsDriverConfig {
                        name: v.driver.clone().filter(|d| !d.is_empty()),
                        options: v
                            .driver_opts
                            .as_ref()
                            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                    });
                }
            }
            out.volume_options = Some(options);
        }
        MountKind::Bind | MountKind::Npipe => {
            out.bind_options = m.bind.as_ref().map(|b| MountBindOptions {
                propagation: b.propagation.as_deref().and_then(|p| p.parse::<Propagation>().ok()),
                ..MountBindOptions::default()
            });
        }
        MountKind::Tmpfs => {
            out.tmpfs_options = m
                .tmpfs
                .as_ref()
                .map(|t| MountTmpfsOptions { size_bytes: t.size.filter(|s| *s != 0), ..Default::default() });
        }
        MountKind::Cluster => {
            if let Some(key) = m.source.as_deref().filter(|s| !s.starts_with("group:")) {
                out.source = Some(scoped(stack, key, def(key).and_then(|v| v.name.as_deref())));
            }
        }
        MountKind::Image => {}
    }
    out
}
