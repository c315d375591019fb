//! A ZooKeeper server of one test's own (Debian's package, as the test bed's), on a free loopback
//! port with its own data directory, so that the test can `kill -9` it and start it again without
//! disturbing anybody else's sessions on the shared test-bed ZooKeeper.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PrivateZookeeper {
    pub addr: SocketAddr,
    dir: PathBuf,
    child: Option<Child>,
}

/// Debian's zookeeper.jar manifest lacks any slf4j binding (see tests/cluster/up.sh).
const CLASSPATH: &str = "/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:\
                         /usr/share/java/netty-resolver.jar:/usr/share/java/slf4j-simple.jar";

impl PrivateZookeeper {
    /// Starts a server (tickTime 2000: sessions of 4 s to 40 s) and waits until it answers.
    pub fn start(dir: &std::path::Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        std::fs::create_dir_all(dir.join("data")).expect("data dir");
        std::fs::write(
            dir.join("zoo.cfg"),
            format!(
                "tickTime=2000\ndataDir={data}\nclientPortAddress=127.0.0.1\nclientPort={port}\n\
                 admin.enableServer=false\n4lw.commands.whitelist=ruok\nmaxClientCnxns=0\n",
                data = dir.join("data").display()
            ),
        )
        .expect("zoo.cfg");
        let mut server = Self { addr, dir: dir.to_path_buf(), child: None };
        server.restart();
        server
    }

    /// Starts the server process again on the same port and data (after [`Self::kill`]), and
    /// waits until it answers `ruok`.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the private ZooKeeper is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("zookeeper.log"))
            .expect("zookeeper log");
        let child = Command::new("java")
            .args(["-Xmx128m", "-Djava.net.preferIPv4Stack=true", "-cp", CLASSPATH])
            .arg(format!("-Dzookeeper.log.dir={}", self.dir.display()))
            .args(["org.apache.zookeeper.server.quorum.QuorumPeerMain"])
            .arg(self.dir.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start java (Debian's zookeeper package)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.answers() {
            let log = std::fs::read_to_string(self.dir.join("zookeeper.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "the private ZooKeeper did not start:\n{log}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `kill -9`: the server dies at once, with whatever it had not written.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// kazoo's `hosts` for this server with `chroot`.
    pub fn hosts(&self, chroot: &str) -> Vec<String> {
        vec!["--hosts".into(), format!("{}{chroot}", self.addr)]
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut reply = String::new();
        stream.write_all(b"ruok").is_ok() && stream.read_to_string(&mut reply).is_ok() && reply == "imok"
    }
}

impl Drop for PrivateZookeeper {
    fn drop(&mut self) {
        self.kill();
    }
}
