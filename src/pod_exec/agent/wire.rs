//! The agent's socket protocol. The client sends one JSON line ([`Hello`]), then frames; the
//! agent answers with frames. A frame is a kind byte, a big-endian u32 length and the payload.

use super::super::client::ClientSpec;
use super::super::session::ExecRequest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const VERSION: u32 = 1;
/// Largest payload accepted (a hello line or a frame).
pub const MAX_FRAME: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Hello {
    pub version: u32,
    pub client: ClientSpec,
    /// The namespace is empty when the context's should be used.
    pub request: ExecRequest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// client → agent
    Stdin = 0,
    StdinEnd = 1,
    /// agent → client
    Stdout = 2,
    Stderr = 3,
    /// The command's exit code (i32, big-endian).
    Exit = 4,
    /// kubepool could not tell the command's exit code; the payload says why.
    Error = 5,
    /// Sent every few seconds so the agent notices a client that went away (ignored).
    Keepalive = 6,
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            0 => Kind::Stdin,
            1 => Kind::StdinEnd,
            2 => Kind::Stdout,
            3 => Kind::Stderr,
            4 => Kind::Exit,
            5 => Kind::Error,
            6 => Kind::Keepalive,
            _ => return None,
        })
    }
}

pub async fn write_frame<W: AsyncWrite + Unpin + ?Sized>(
    writer: &mut W,
    kind: Kind,
    payload: &[u8],
) -> std::io::Result<()> {
    let length = u32::try_from(payload.len()).map_err(|_| std::io::Error::other("frame too large"))?;
    let mut head = [0u8; 5];
    head[0] = kind as u8;
    head[1..].copy_from_slice(&length.to_be_bytes());
    writer.write_all(&head).await?;
    writer.write_all(payload).await?;
    writer.flush().await
}

/// The next frame; `None` at a clean end of the stream.
pub async fn read_frame<R: AsyncRead + Unpin + ?Sized>(reader: &mut R) -> std::io::Result<Option<(Kind, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match reader.read_exact(&mut head[..1]).await {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    reader.read_exact(&mut head[1..]).await?;
    let kind = Kind::from_byte(head[0]).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("unknown frame kind {}", head[0]))
    })?;
    let length = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if length > MAX_FRAME {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("frame of {length} bytes")));
    }
    let mut payload = vec![0u8; length];
    reader.read_exact(&mut payload).await?;
    Ok(Some((kind, payload)))
}

pub async fn write_hello<W: AsyncWrite + Unpin>(writer: &mut W, hello: &Hello) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(hello).map_err(std::io::Error::other)?;
    line.push(b'\n');
    writer.write_all(&line).await?;
    writer.flush().await
}

/// Reads the hello line byte by byte (frames follow it on the same stream).
pub async fn read_hello<R: AsyncRead + Unpin>(reader: &mut R) -> std::io::Result<Hello> {
    let mut line = Vec::new();
    loop {
        let byte = reader.read_u8().await?;
        if byte == b'\n' {
            break;
        }
        line.push(byte);
        if line.len() > MAX_FRAME {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "hello line too long"));
        }
    }
    serde_json::from_slice(&line).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_exec::Target;

    #[tokio::test]
    async fn hello_and_frames_round_trip() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let hello = Hello {
            version: VERSION,
            client: ClientSpec { kubeconfig: Some("/k".into()), context: None },
            request: ExecRequest {
                target: Target { namespace: "ns".into(), pod: "p".into(), container: None },
                command: vec!["echo".into(), "x y".into()],
                stdin: true,
                resume_seconds: 5,
                stdin_bytes: Some(9),
            },
        };
        write_hello(&mut a, &hello).await.expect("hello");
        write_frame(&mut a, Kind::Stdin, b"\0binary\n").await.expect("frame");
        write_frame(&mut a, Kind::StdinEnd, b"").await.expect("frame");
        drop(a);
        let read = read_hello(&mut b).await.expect("read hello");
        assert_eq!(read.request.command, hello.request.command);
        assert_eq!(read_frame(&mut b).await.expect("frame"), Some((Kind::Stdin, b"\0binary\n".to_vec())));
        assert_eq!(read_frame(&mut b).await.expect("frame"), Some((Kind::StdinEnd, Vec::new())));
        assert_eq!(read_frame(&mut b).await.expect("end"), None);
    }

    #[tokio::test]
    async fn unknown_kinds_and_huge_frames_are_refused() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&[9, 0, 0, 0, 0]).await.expect("write");
        assert!(read_frame(&mut b).await.is_err());
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&[2, 0xff, 0xff, 0xff, 0xff]).await.expect("write");
        assert!(read_frame(&mut b).await.is_err());
    }
}
