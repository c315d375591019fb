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

/// The argv that starts `command` under the supervisor as run `id`, removing the files of the
/// `received` runs (whose results their clients have).
pub fn start_argv(id: &str, received: &[String], stdin: bool, command: &[String]) -> Vec<String> {
    let mut argv = base_argv(if stdin { "start-stdin" } else { "start" }, id, 0, 0);
    let received: Vec<&str> = received
        .iter()
        .map(String::as_str)
        .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    argv.push(if received.is_empty() { "-".into() } else { received.join(",") });
    argv.extend(command.iter().cloned());
    argv
}

/// The argv that re-attaches to run `id` from the given byte offsets.
pub fn attach_argv(id: &str, stdout_offset: u64, stderr_offset: u64) -> Vec<String> {
    let mut argv = base_argv("attach", id, stdout_offset, stderr_offset);
    argv.push("-".into());
    argv
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

/// The first bytes on stdout of a spare supervisor (one waiting for its command on stdin).
pub const SPARE_BANNER: &[u8] = b"KUBEPOOL-SPARE-1\n";

/// The argv of a spare supervisor.
pub fn spare_argv() -> Vec<String> {
    let mut argv = base_argv("spare", "-", 0, 0);
    argv.truncate(5);
    argv
}

/// What a spare supervisor reads on stdin to run as `start_argv` would: `<len>\n<sh words>`.
pub fn spare_command_line(start_argv: &[String]) -> Vec<u8> {
    words_line(start_argv.iter().skip(4).map(String::as_str))
}

/// The first bytes on stdout of a channel server ([`super::channel`]).
pub const CHANNEL_BANNER: &[u8] = b"KUBEPOOL-CHANNEL-1\n";

/// The argv of a channel server.
pub fn channel_argv() -> Vec<String> {
    let mut argv = base_argv("channel", "-", 0, 0);
    argv.truncate(5);
    argv
}

/// A channel request for the run `start_argv` describes: one line of sh words, the end marker,
/// the stdin byte count and the run's arguments (mode `start-file` when stdin bytes follow,
/// then [`CHANNEL_STDIN_END`]).
pub fn channel_request(marker: &str, stdin_bytes: u64, start_argv: &[String]) -> Vec<u8> {
    let count = stdin_bytes.to_string();
    let mut words: Vec<&str> = vec![marker, &count];
    for (index, word) in start_argv.iter().skip(4).enumerate() {
        words.push(match (index, word.as_str()) {
            (0, _) if stdin_bytes > 0 => "start-file",
            (0, _) => "start",
            (_, word) => word,
        });
    }
    let mut line = words
        .into_iter()
        .map(|word| sh_quote(word).replace('\n', "'\"$nl\"'"))
        .collect::<Vec<_>>()
        .join(" ")
        .into_bytes();
    line.push(b'\n');
    line
}

/// What follows a channel request's stdin bytes (the server runs nothing without it).
pub const CHANNEL_STDIN_END: &[u8] = b"end\n";

fn words_line<'a>(words: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let line = words.map(sh_quote).collect::<Vec<_>>().join(" ");
    let mut out = format!("{}\n", line.len()).into_bytes();
    out.extend_from_slice(line.as_bytes());
    out
}

/// `word` as one single-quoted sh word.
fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
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
        let argv = start_argv("abc", &[], false, &["echo".into(), "a b".into()]);
        assert_eq!(argv[..2], ["/bin/sh", "-c"]);
        assert_eq!(argv[3..], ["kubepool-exec", "start", "abc", "0", "0", "-", "echo", "a b"]);
        assert_eq!(attach_argv("abc", 5, 7)[4..], ["attach", "abc", "5", "7", "-"]);
        let received = ["0a".to_string(), "../x".to_string(), "ff".to_string()];
        assert_eq!(start_argv("abc", &received, true, &[])[8], "0a,ff");
        assert!(new_run_id().chars().all(|c| c.is_ascii_hexdigit()));
    }

    /// Runs the script with the local `/bin/sh` and coreutils, in a private TMPDIR.
    fn run_script(tmp: &std::path::Path, argv: &[String], stdin: &[u8]) -> std::process::Output {
        use std::io::Write;
        let mut child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env("TMPDIR", tmp)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run sh");
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(stdin).expect("stdin");
        }
        child.wait_with_output().expect("wait")
    }

    fn temp_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("kubepool-supervisor-{}", new_run_id()));
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn start_keeps_output_and_exit_code_and_attach_resumes_from_offsets() {
        let tmp = temp_dir();
        let command: Vec<String> =
            ["sh", "-c", "printf 'one\ntwo\n'; printf 'e1\ne2\n' >&2; exit 4"].iter().map(|s| s.to_string()).collect();
        let out = run_script(&tmp, &start_argv("a1", &[], false, &command), b"");
        assert_eq!(out.status.code(), Some(4));
        assert_eq!(out.stdout, [BANNER, b"one\ntwo\n"].concat());
        assert_eq!(out.stderr, b"e1\ne2\n");
        // Re-attach after 4 bytes of stdout and 3 of stderr: the rest, and the same exit code.
        let out = run_script(&tmp, &attach_argv("a1", 4, 3), b"");
        assert_eq!(out.status.code(), Some(4));
        assert_eq!(out.stdout, [BANNER, b"two\n"].concat());
        assert_eq!(out.stderr, b"e2\n");
        // An unknown run is an error before the banner.
        let out = run_script(&tmp, &attach_argv("nope", 0, 0), b"");
        assert_eq!(out.status.code(), Some(255));
        assert!(!out.stdout.starts_with(BANNER));
        // A later start removes the files of runs whose results were received.
        let run_dir = tmp.join(".kubepool-exec");
        assert!(run_dir.join("a1").is_dir());
        let out = run_script(&tmp, &start_argv("a3", &["a1".into()], false, &["true".into()]), b"");
        assert_eq!(out.status.code(), Some(0));
        assert!(!run_dir.join("a1").exists() && run_dir.join("a3").is_dir());
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn framed_and_raw_stdin_reach_the_command_byte_for_byte() {
        let tmp = temp_dir();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let cat = vec!["cat".to_string()];
        let mut framed = vec![StdinMode::Framed.marker()];
        for chunk in data.chunks(70_000) {
            framed.extend_from_slice(&frame(chunk));
        }
        framed.extend_from_slice(FRAMED_END);
        // Bytes after the end are not the command's.
        framed.extend_from_slice(b"trailing");
        let out = run_script(&tmp, &start_argv("f1", &[], true, &cat), &framed);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout[BANNER.len()..] == data[..], "framed stdin differs");

        let mut raw = vec![StdinMode::Raw.marker()];
        raw.extend_from_slice(&data);
        let out = run_script(&tmp, &start_argv("a2", &[], true, &cat), &raw);
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout[BANNER.len()..] == data[..], "raw stdin differs");
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn without_stdin_an_open_stdin_pipe_is_not_read() {
        let tmp = temp_dir();
        let argv = start_argv("b1", &[], false, &["sh".into(), "-c".into(), "echo ran".into()]);
        let mut child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .env("TMPDIR", &tmp)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run sh");
        // Held open, never written.
        let _stdin = child.stdin.take();
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "the supervisor waits for stdin");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(status.success());
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn the_script_prints_the_banner() {
        let banner = std::str::from_utf8(BANNER).unwrap_or_default().trim_end();
        assert!(SCRIPT.contains(&format!("printf '{banner}\\n'")));
    }

    #[test]
    fn a_spare_runs_the_command_line_it_reads_on_stdin() {
        let tmp = temp_dir();
        let command: Vec<String> = ["sh", "-c", "printf '%s|' \"$@\"; cat; exit 5", "x", "it's", "a b", "$HOME"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut stdin = spare_command_line(&start_argv("s1", &[], true, &command));
        stdin.extend_from_slice(&[StdinMode::Framed.marker()]);
        stdin.extend_from_slice(&frame(b"\0in\n"));
        stdin.extend_from_slice(FRAMED_END);
        let out = run_script(&tmp, &spare_argv(), &stdin);
        assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, [SPARE_BANNER, BANNER, b"it's|a b|$HOME|\0in\n"].concat());
        // Not needed: the stream ends before a command line comes.
        let out = run_script(&tmp, &spare_argv(), b"");
        assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), SPARE_BANNER));
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn a_channel_runs_one_request_after_another_each_with_its_end_marker() {
        let tmp = temp_dir();
        let strings = |words: &[&str]| words.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let first =
            strings(&["sh", "-c", "printf '%s|' \"$@\"; cat; printf err >&2; exit 5", "x", "it's", "$HOME", "a\nb"]);
        let second = strings(&["sh", "-c", "printf 'no newline'; cat"]);
        let mut stdin = channel_request("M1", 4, &start_argv("c1", &[], true, &first));
        stdin.extend_from_slice(b"\0in\n");
        stdin.extend_from_slice(CHANNEL_STDIN_END);
        // The second run removes the first's files and reads no stdin (none is sent).
        stdin.extend_from_slice(&channel_request("M2", 0, &start_argv("c2", &["c1".into()], false, &second)));
        let out = run_script(&tmp, &channel_argv(), &stdin);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            out.stdout,
            [CHANNEL_BANNER, BANNER, b"it's|$HOME|a\nb|\0in\nM1 5\n", BANNER, b"no newlineM2 0\n"].concat()
        );
        assert_eq!(out.stderr, b"errM1\nM2\n");
        let runs = tmp.join(".kubepool-exec");
        assert!(!runs.join("c1").exists() && runs.join("c2/rc").exists());
        // A stream that ends inside a request's stdin runs nothing.
        let mut stdin = channel_request("M3", 10, &start_argv("c3", &[], true, &second));
        stdin.extend_from_slice(b"short");
        let out = run_script(&tmp, &channel_argv(), &stdin);
        assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(255), CHANNEL_BANNER));
        assert!(!runs.join("c3").exists());
        // A run whose directory cannot be made is not started; the channel goes on.
        let mut stdin = channel_request("M4", 2, &start_argv("c2", &[], true, &second));
        stdin.extend_from_slice(b"xx");
        stdin.extend_from_slice(CHANNEL_STDIN_END);
        stdin.extend_from_slice(&channel_request("M5", 0, &start_argv("c5", &[], false, &second)));
        let out = run_script(&tmp, &channel_argv(), &stdin);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, [CHANNEL_BANNER, b"M4 -\n", BANNER, b"no newlineM5 0\n"].concat());
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot create"), "{:?}", out.stderr);
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
