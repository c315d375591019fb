//! Writing the prepared files: `<dir>/kube/config` (mode 0600, it holds tokens),
//! `<dir>/inventory.yaml` and `<dir>/resources.json` (`zuul.resources`).

use super::ExecutorError;
use super::inventory::Prepared;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where [`write_all`] puts each file.
#[derive(Debug, Clone)]
pub struct Paths {
    pub kubeconfig: PathBuf,
    pub inventory: PathBuf,
    pub resources: PathBuf,
}

impl Paths {
    pub fn under(dir: &Path) -> Self {
        Paths {
            kubeconfig: dir.join("kube").join("config"),
            inventory: dir.join("inventory.yaml"),
            resources: dir.join("resources.json"),
        }
    }
}

/// Writes `text` to `path` through a temporary file renamed into place, created with `mode`.
pub fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), ExecutorError> {
    let error = |source| ExecutorError::Write { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(error)
}

/// Writes the kubeconfig (0600), the inventory and `zuul.resources` (0644).
pub fn write_all(paths: &Paths, prepared: &Prepared, resources: &serde_json::Value) -> Result<(), ExecutorError> {
    write_file(&paths.kubeconfig, &prepared.kubeconfig.render(), 0o600)?;
    write_file(&paths.inventory, &prepared.inventory, 0o644)?;
    write_resources(paths, resources)
}

/// (Re)writes `resources.json`, e.g. once the stream ports are known.
pub fn write_resources(paths: &Paths, resources: &serde_json::Value) -> Result<(), ExecutorError> {
    let text = serde_json::to_string_pretty(resources).unwrap_or_else(|_| "{}".into());
    write_file(&paths.resources, &(text + "\n"), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_created_with_their_mode_and_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("kubepool-output-{}", uuid::Uuid::new_v4()));
        let path = dir.join("kube").join("config");
        write_file(&path, "first", 0o600).expect("write");
        write_file(&path, "second", 0o600).expect("rewrite");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "second");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(dir.join("kube")).expect("list").count(), 1, "no temporary file left");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
