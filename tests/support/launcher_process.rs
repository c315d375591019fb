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
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
    LauncherProcess(
        Command::new(env!("CARGO_BIN_EXE_kubepool"))
            .args(["launcher", "--cleanup-interval-seconds", "3", "-c"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the launcher"),
    )
}
