//! Where the agent's socket lives: `KUBEPOOL_AGENT_SOCKET`, else
//! `$XDG_RUNTIME_DIR/kubepool/agent.sock`, else `/tmp/kubepool-<uid>/agent.sock`; its directory
//! is created with mode 0700 and must belong to the current user.

use super::super::ExecError;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub fn current_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

pub fn default_path() -> PathBuf {
    if let Some(path) = std::env::var_os("KUBEPOOL_AGENT_SOCKET").filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        return Path::new(&dir).join("kubepool/agent.sock");
    }
    let uid = current_uid().map(|u| u.to_string()).unwrap_or_else(|| "user".into());
    std::env::temp_dir().join(format!("kubepool-{uid}/agent.sock"))
}

/// Creates the socket's directory (0700) or checks that it is private to this user.
pub fn ensure_private_dir(socket: &Path) -> Result<PathBuf, ExecError> {
    let dir = socket.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let io = |source| ExecError::AgentIo { path: dir.clone(), source };
    match std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(error) => return Err(io(error)),
    }
    let meta = std::fs::metadata(&dir).map_err(io)?;
    if let Some(uid) = current_uid()
        && meta.uid() != uid
    {
        return Err(ExecError::Agent(format!("{} belongs to uid {}, not to this user", dir.display(), meta.uid())));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(dir)
}
