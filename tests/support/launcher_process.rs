//! A real `kubepool launcher` process for crash tests: started with a config and a log file,
//! killed (SIGKILL) when dropped, also when the test fails.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};

pub struct LauncherProcess(pub Child);

impl Drop for LauncherProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for LauncherProcess {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for LauncherProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// Starts the launcher on `config` with a 3 s cleanup interval, its log appended to `log`.
pub fn start(config: &std::path::Path, log: &std::path::Path) -> LauncherProcess {
    start_with(config, log, &[], &[])
}

/// [`start`] with more command-line arguments and environment variables.
pub fn start_with(
    config: &std::path::Path,
    log: &std::path::Path,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> LauncherProcess {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
    LauncherProcess(
        Command::new(env!("CARGO_BIN_EXE_kubepool"))
            .args(["launcher", "--cleanup-interval-seconds", "3"])
            .args(args)
            .arg("-c")
            .arg(config)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the launcher"),
    )
}

impl LauncherProcess {
    /// Sends the Unix signal `signal` (e.g. "TERM") to the launcher, as `kill -TERM` does.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.0.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal} the launcher");
    }

    /// Panics, with the end of its log, if the launcher has exited.
    pub fn assert_running(&mut self, log: &std::path::Path) {
        if let Ok(Some(status)) = self.0.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            panic!(
                "the launcher exited ({status}); its log ends:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}
