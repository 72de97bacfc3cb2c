//! Files only their owner reads. What planrun writes (journals, dumps, job outputs,
//! saved plans, the deployment log, job output) may hold a copy of the database or a record of
//! the swarm, so each is created mode 0600, in directories planrun creates mode 0700, whatever
//! the umask. Temporary files and directories get names no one can guess, created with
//! `O_EXCL` (the `tempfile` crate), so a file or link planted at a predictable name is never
//! written through.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the files planrun creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of the directories planrun creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents, each 0700. Directories already there keep their mode
/// (a team's backup directory shared on purpose stays shared).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `path`, which must not exist yet (`O_EXCL`: a planted file or link is an error), 0600.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path)
}

/// Creates or truncates `path`, 0600 (an existing file is made 0600 too).
pub fn create(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// The same, for tokio.
pub async fn create_async(path: &Path) -> io::Result<tokio::fs::File> {
    let file = tokio::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(path).await?;
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE)).await?;
    Ok(file)
}

/// Opens `path` to append, creating it 0600.
pub fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).mode(FILE_MODE).open(path)
}

/// Writes `bytes` to `path` as [`create`] does.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A new temporary directory, 0700, with a name no one can guess; removed when dropped.
pub fn temp_dir(prefix: &str) -> io::Result<tempfile::TempDir> {
    // tempfile makes directories 0777 less the umask unless told.
    tempfile::Builder::new().prefix(prefix).permissions(std::fs::Permissions::from_mode(DIR_MODE)).tempdir()
}

/// A new empty temporary file, 0600, with a name no one can guess; removed when dropped.
pub fn temp_file(prefix: &str) -> io::Result<tempfile::TempPath> {
    Ok(tempfile::Builder::new().prefix(prefix).tempfile()?.into_temp_path())
}

/// Why a file planrun is about to trust (a journal whose commands `rollback` would run) may
/// have been written by someone else: it, or the directory holding it, belongs to another user
/// (root aside) or is writable by group or others. `None`: it is this user's alone.
pub fn not_trusted(path: &Path) -> Option<String> {
    let me = unsafe { libc::geteuid() };
    let mut at: Option<PathBuf> = Some(path.to_path_buf());
    let mut depth = 0;
    while let Some(p) = at {
        // The file and its own directory: further up, a shared /tmp or /home is fine.
        if depth == 2 {
            break;
        }
        let meta = match std::fs::metadata(&p) {
            Ok(m) => m,
            Err(e) => return Some(format!("cannot read {}: {e}", p.display())),
        };
        if meta.uid() != me && meta.uid() != 0 {
            return Some(format!("{} belongs to user {}, not to this user ({me})", p.display(), meta.uid()));
        }
        // A sticky directory (/tmp) lets no one replace another user's file in it.
        let sticky = meta.is_dir() && meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o022 != 0 && !sticky {
            return Some(format!(
                "{} is writable by {} (mode {:o}): `chmod go-w {}`",
                p.display(),
                if meta.mode() & 0o002 != 0 { "everyone" } else { "its group" },
                meta.mode() & 0o777,
                p.display()
            ));
        }
        at = p.parent().map(Path::to_path_buf).filter(|d| !d.as_os_str().is_empty());
        depth += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_the_owners_alone() {
        let base = temp_dir("planrun-private-test-").unwrap();
        let dir = base.path().join("a/b");
        // (The umask is the process's: changing it here would change other tests' files.)
        create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        write(&file, b"x").unwrap();
        let appended = dir.join("log");
        append(&appended).unwrap();
        assert_eq!(mode(&base.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&appended), 0o600);
        assert_eq!(mode(base.path()), 0o700, "tempfile's directory");
        let temp = temp_file("planrun-private-test-").unwrap();
        assert_eq!(mode(&temp), 0o600);

        // An existing readable file is made private when rewritten.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&file, b"y").unwrap();
        assert_eq!(mode(&file), 0o600);
        // A name already taken (a planted file or link) is refused.
        assert_eq!(create_new(&file).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        std::os::unix::fs::symlink(&file, dir.join("link")).unwrap();
        assert_eq!(create_new(&dir.join("link")).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn a_file_others_may_write_is_not_trusted() {
        let base = temp_dir("planrun-private-test-").unwrap();
        let file = base.path().join("j.jsonl");
        write(&file, b"{}").unwrap();
        assert_eq!(not_trusted(&file), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        let why = not_trusted(&file).unwrap();
        assert!(why.contains("writable by everyone (mode 666)") && why.contains("chmod go-w"), "{why}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
        assert!(not_trusted(&file).unwrap().contains("writable by its group"));
    }
}
