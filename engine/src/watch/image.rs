//! The watch service's image, made from the running planrun itself: its executable, the shared
//! libraries `ldd` lists for it, and busybox (for `command` gates: `sh`, `wget`, ...), as a root
//! file system fed to `docker import`. Named `planrun/planrun:VERSION-HASH` (the executable's
//! hash), so a rebuilt planrun gets its own image and an unchanged one is imported once.
//!
//! The image is imported into the daemon planrun talks to only: on a swarm of several
//! managers, the watch task can start only on a manager that has it (docs/commands.md).

use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::cluster::{Cluster, ClusterError};

/// Where planrun is in the image.
pub const BINARY: &str = "/usr/local/bin/planrun";

/// The busybox applets linked in `/bin` (what `command` gates and `sh -c` scripts use).
const APPLETS: &[&str] = &[
    "sh", "ash", "wget", "timeout", "sleep", "cat", "echo", "test", "[", "grep", "head", "tail", "cut", "tr", "sed",
    "awk", "nc", "date", "true", "false", "ls", "env", "expr", "wc",
];

/// Why the image could not be made.
#[derive(Debug)]
pub enum ImageError {
    /// A file of this machine could not be read (the executable, a library, busybox).
    Read(PathBuf, std::io::Error),
    /// `ldd` could not be run or did not answer.
    Ldd(String),
    /// The daemon refused the image or did not answer.
    Cluster(ClusterError),
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageError::Read(path, e) => write!(f, "cannot read {}: {e}", path.display()),
            ImageError::Ldd(why) => write!(f, "cannot list planrun's shared libraries with ldd: {why}"),
            ImageError::Cluster(e) => write!(f, "cannot import the watch image: {e}"),
        }
    }
}

/// The image of this planrun, imported first when the daemon lacks it; its reference.
pub async fn ensure(cluster: &dyn Cluster) -> Result<String, ImageError> {
    let exe = std::env::current_exe().map_err(|e| ImageError::Read(PathBuf::from("/proc/self/exe"), e))?;
    let binary = tokio::fs::read(&exe).await.map_err(|e| ImageError::Read(exe.clone(), e))?;
    let hash = sha2::Sha256::digest(&binary);
    let hex: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let reference = format!("planrun/planrun:{}-{hex}", env!("CARGO_PKG_VERSION"));
    if cluster.has_image(&reference).await.map_err(ImageError::Cluster)? {
        return Ok(reference);
    }
    let libraries = libraries(&exe).await?;
    let mut tar = Tar::default();
    for dir in ["bin", "etc", "usr", "usr/local", "usr/local/bin", "var", "var/run"] {
        tar.dir(dir, 0o755);
    }
    tar.dir("tmp", 0o1777);
    tar.file(BINARY, 0o755, &binary);
    drop(binary);
    for library in libraries {
        let data = tokio::fs::read(&library).await.map_err(|e| ImageError::Read(library.clone(), e))?;
        tar.parents(&library);
        tar.file(&library.to_string_lossy(), 0o755, &data);
    }
    if let Some(busybox) = ["/bin/busybox", "/usr/bin/busybox"].iter().map(Path::new).find(|p| p.is_file()) {
        let data = tokio::fs::read(busybox).await.map_err(|e| ImageError::Read(busybox.to_path_buf(), e))?;
        tar.file("/bin/busybox", 0o755, &data);
        for applet in APPLETS {
            tar.symlink(&format!("/bin/{applet}"), "busybox");
        }
    }
    // Resolving the names of `http` gates goes through /etc/hosts and /etc/nsswitch.conf.
    tar.file("/etc/hosts", 0o644, b"127.0.0.1 localhost\n::1 localhost\n");
    tar.file("/etc/nsswitch.conf", 0o644, b"hosts: files dns\n");
    cluster.import_image(&reference, tar.finish()).await.map_err(ImageError::Cluster)?;
    Ok(reference)
}

/// The shared libraries `ldd` lists for `exe`, the loader included.
async fn libraries(exe: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let out =
        tokio::process::Command::new("ldd").arg(exe).output().await.map_err(|e| ImageError::Ldd(e.to_string()))?;
    if !out.status.success() {
        // A static executable: nothing to add.
        return Ok(Vec::new());
    }
    Ok(from_ldd(&String::from_utf8_lossy(&out.stdout)))
}

/// The paths in `ldd`'s answer: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` and
/// `/lib64/ld-linux-x86-64.so.2 (0x...)`; `linux-vdso.so.1` has no file.
fn from_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let path = line.split("=>").nth(1).unwrap_or(line).trim();
            let path = path.split(" (").next()?.trim();
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// A tar archive (ustar) being written: directories, files and symbolic links, owned by root.
#[derive(Default)]
struct Tar {
    out: Vec<u8>,
    dirs: std::collections::HashSet<String>,
}

impl Tar {
    fn dir(&mut self, path: &str, mode: u32) {
        let path = path.trim_matches('/').to_owned();
        if self.dirs.insert(path.clone()) {
            self.entry(&format!("{path}/"), mode, b'5', 0, "");
        }
    }

    /// Every directory above `path`.
    fn parents(&mut self, path: &Path) {
        let mut above: Vec<&Path> = path.ancestors().skip(1).filter(|p| p != &Path::new("/")).collect();
        above.reverse();
        for dir in above {
            self.dir(&dir.to_string_lossy(), 0o755);
        }
    }

    fn file(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.entry(path.trim_start_matches('/'), mode, b'0', data.len() as u64, "");
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path.trim_start_matches('/'), 0o777, b'2', 0, target);
    }

    fn entry(&mut self, name: &str, mode: u32, kind: u8, size: u64, link: &str) {
        let mut header = [0u8; 512];
        // Names over 100 bytes go in the prefix field, split at a `/`.
        let (prefix, name) = match name.len() {
            0..=100 => ("", name),
            _ => name.split_at(name[..name.len().min(155)].rfind('/').unwrap_or(0)),
        };
        let name = name.trim_start_matches('/');
        header[..name.len().min(100)].copy_from_slice(&name.as_bytes()[..name.len().min(100)]);
        let octal = |header: &mut [u8; 512], at: usize, width: usize, value: u64| {
            let text = format!("{value:0w$o}\0", w = width - 1);
            header[at..at + width].copy_from_slice(text.as_bytes());
        };
        octal(&mut header, 100, 8, u64::from(mode));
        octal(&mut header, 108, 8, 0);
        octal(&mut header, 116, 8, 0);
        octal(&mut header, 124, 12, size);
        octal(&mut header, 136, 12, 0);
        header[156] = kind;
        header[157..157 + link.len().min(100)].copy_from_slice(&link.as_bytes()[..link.len().min(100)]);
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[345..345 + prefix.len().min(155)].copy_from_slice(&prefix.as_bytes()[..prefix.len().min(155)]);
        // The checksum is computed with its own field as spaces.
        header[148..156].copy_from_slice(b"        ");
        let sum: u64 = header.iter().map(|b| u64::from(*b)).sum();
        let text = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(text.as_bytes());
        self.out.extend_from_slice(&header);
    }

    fn pad(&mut self) {
        let rest = self.out.len() % 512;
        if rest != 0 {
            self.out.resize(self.out.len() + 512 - rest, 0);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.resize(self.out.len() + 1024, 0);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_lines_give_the_library_paths_and_the_loader() {
        let text = "\tlinux-vdso.so.1 (0x00007ffc)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            from_ldd(text),
            [PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"), PathBuf::from("/lib64/ld-linux-x86-64.so.2")]
        );
    }

    #[test]
    fn a_tar_entry_is_a_512_byte_header_with_its_data_padded() {
        let mut tar = Tar::default();
        tar.file("/etc/hosts", 0o644, b"hello");
        tar.symlink("/bin/sh", "busybox");
        let out = tar.finish();
        assert_eq!(out.len(), 512 + 512 + 512 + 1024);
        assert_eq!(&out[..9], b"etc/hosts");
        assert_eq!(&out[124..135], b"00000000005");
        assert_eq!(&out[512..517], b"hello");
        assert_eq!(out[1024 + 156], b'2');
    }
}
