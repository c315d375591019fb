//! The in-pod side of `kubepool exec`: a POSIX sh script (`supervisor.sh`) passed as
//! `sh -c <script>`, so the image needs only `/bin/sh` and coreutils (no Python).
//!
//! The script prints [`BANNER`] on stdout before any output of the command: a stream that ends
//! without it never ran the supervisor (some runtimes report success for an exec whose binary
//! is missing), so its status is not trusted.

/// The supervisor script.
pub const SCRIPT: &str = include_str!("supervisor.sh");

/// The first bytes on stdout of every supervisor run.
pub const BANNER: &[u8] = b"KUBEPOOL-EXEC-1\n";

/// How stdin reaches the command: the first byte sent on the stdin channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinMode {
    /// Raw bytes; the end is the v5 protocol's close of the stdin channel.
    Raw,
    /// `<len>\n<bytes>` chunks ended by `0\n` (v4 has no half-close).
    Framed,
}

impl StdinMode {
    pub fn marker(self) -> u8 {
        match self {
            StdinMode::Raw => b'R',
            StdinMode::Framed => b'F',
        }
    }
}

/// One framed stdin chunk (`data` must not be empty: an empty chunk is the end).
pub fn frame(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(data.len().to_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(data);
    out
}

/// The framed end of stdin.
pub const FRAMED_END: &[u8] = b"0\n";

/// The argv that starts `command` under the supervisor as run `id`.
pub fn start_argv(id: &str, command: &[String]) -> Vec<String> {
    let mut argv = base_argv("start", id, 0, 0);
    argv.extend(command.iter().cloned());
    argv
}

/// The argv that re-attaches to run `id` from the given byte offsets.
pub fn attach_argv(id: &str, stdout_offset: u64, stderr_offset: u64) -> Vec<String> {
    base_argv("attach", id, stdout_offset, stderr_offset)
}

fn base_argv(mode: &str, id: &str, stdout_offset: u64, stderr_offset: u64) -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        SCRIPT.into(),
        "kubepool-exec".into(),
        mode.into(),
        id.into(),
        stdout_offset.to_string(),
        stderr_offset.to_string(),
    ]
}

/// A run id: safe as a file name in the pod.
pub fn new_run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_length() {
        assert_eq!(frame(b"hello"), b"5\nhello");
        assert_eq!(frame(&[0u8; 12]).len(), 3 + 12);
    }

    #[test]
    fn argv_passes_the_command_after_the_offsets() {
        let argv = start_argv("abc", &["echo".into(), "a b".into()]);
        assert_eq!(argv[..2], ["/bin/sh", "-c"]);
        assert_eq!(argv[3..], ["kubepool-exec", "start", "abc", "0", "0", "echo", "a b"]);
        assert_eq!(attach_argv("abc", 5, 7)[4..], ["attach", "abc", "5", "7"]);
        assert!(new_run_id().chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn the_script_prints_the_banner() {
        let banner = std::str::from_utf8(BANNER).unwrap_or_default().trim_end();
        assert!(SCRIPT.contains(&format!("printf '{banner}\\n'")));
    }
}
