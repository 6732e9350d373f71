//! Output files that may hold secrets: created private (0600) whatever already exists at
//! the path, never through a symbolic link, with errors that name the path and the cause.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Why an output file could not be created.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path} is a symbolic link: refusing to write through it (give the real path)")]
    Symlink { path: String },
    #[error("cannot create {path}: {parent} is not a folder")]
    ParentNotFolder { path: String, parent: String },
    #[error("{path} is a folder: give a file name")]
    IsFolder { path: String },
    #[error("cannot create {path}: {cause}")]
    Io { path: String, cause: io::Error },
}

/// Create (or truncate) `path` with mode 0600, creating missing parent folders. An
/// existing file keeps nothing of its old content or mode; a symbolic link is refused.
pub fn create_private(path: &Path) -> Result<File, OutputError> {
    let shown = path.display().to_string();
    let io_err = |source: io::Error| OutputError::Io {
        path: shown.clone(),
        cause: source,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            return Err(OutputError::Symlink { path: shown });
        }
        if meta.is_dir() {
            return Err(OutputError::IsFolder { path: shown });
        }
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Walk up to the first component that exists: a file there is the real cause.
        let mut up = Some(parent);
        while let Some(p) = up {
            match std::fs::metadata(p) {
                Ok(m) if !m.is_dir() => {
                    return Err(OutputError::ParentNotFolder {
                        path: shown,
                        parent: p.display().to_string(),
                    });
                }
                Ok(_) => break,
                Err(_) => up = p.parent().filter(|q| !q.as_os_str().is_empty()),
            }
        }
        std::fs::create_dir_all(parent).map_err(io_err)?;
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                OutputError::Symlink {
                    path: shown.clone(),
                }
            } else {
                io_err(e)
            }
        })?;
    // An existing file keeps its mode on open: make it private now.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io_err)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("oauthscope-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn existing_files_become_private_and_symlinks_are_refused() {
        let d = dir("mode");
        let p = d.join("out.har");
        std::fs::write(&p, "old content").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(create_private(&p).unwrap());
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 0);

        let target = d.join("victim");
        std::fs::write(&target, "keep me").unwrap();
        let link = d.join("link.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = create_private(&link).unwrap_err();
        assert!(matches!(err, OutputError::Symlink { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }

    #[test]
    fn a_file_in_the_parent_path_is_named_as_the_cause() {
        let d = dir("parent");
        let f = d.join("readme.md");
        std::fs::write(&f, "x").unwrap();
        let err = create_private(&f.join("x.jsonl")).unwrap_err().to_string();
        assert!(err.contains("readme.md is not a folder"), "{err}");
        assert_eq!(err.matches("readme.md").count(), 2, "{err}");
        let err = create_private(&d).unwrap_err().to_string();
        assert!(err.contains("is a folder"), "{err}");
    }
}
