//! The SSH binary encodings (RFC 4251 §5) and unencrypted packets (RFC 4253 §6) that the host
//! key probe and the OpenSSH key files need.

use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest packet the probe accepts (the server's KEXINIT and KEX reply are far smaller).
const MAX_PACKET: u32 = 256 * 1024;

/// Appends SSH-encoded values to a byte buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn byte(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }

    /// A `string`: length-prefixed bytes. Panics never: lengths over 4 GiB do not occur here
    /// (callers pass keys, hashes and name lists).
    pub fn string(&mut self, bytes: &[u8]) -> &mut Self {
        self.u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX)).raw(bytes)
    }

    /// An `mpint` of the unsigned big-endian integer `bytes`.
    pub fn mpint(&mut self, bytes: &[u8]) -> &mut Self {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let digits = &bytes[start..];
        if digits.first().is_some_and(|b| b & 0x80 != 0) {
            let mut padded = Vec::with_capacity(digits.len() + 1);
            padded.push(0);
            padded.extend_from_slice(digits);
            self.string(&padded)
        } else {
            self.string(digits)
        }
    }
}

/// Reads SSH-encoded values from a byte slice.
#[derive(Debug)]
pub struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn u32(&mut self) -> Option<u32> {
        let bytes = self.take(4)?;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    pub fn string(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// Sends `payload` as an unencrypted packet (block size 8, at least 4 bytes of padding).
pub async fn write_packet(stream: &mut (impl AsyncWrite + Unpin), payload: &[u8]) -> io::Result<()> {
    let unpadded = 4 + 1 + payload.len();
    let padding = 4 + (8 - (unpadded + 4) % 8) % 8;
    let mut packet = Writer::default();
    packet.u32((1 + payload.len() + padding) as u32).byte(padding as u8).raw(payload).raw(&vec![0; padding]);
    stream.write_all(&packet.0).await
}

/// Reads one unencrypted packet and returns its payload.
pub async fn read_packet(stream: &mut (impl AsyncRead + Unpin)) -> io::Result<Vec<u8>> {
    let length = stream.read_u32().await?;
    if !(5..=MAX_PACKET).contains(&length) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("packet length {length}")));
    }
    let mut body = vec![0; length as usize];
    stream.read_exact(&mut body).await?;
    let padding = body[0] as usize;
    if padding + 1 > body.len() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "padding longer than the packet"));
    }
    Ok(body[1..body.len() - padding].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpint_strips_zeros_and_keeps_the_sign_positive() {
        assert_eq!(Writer::default().mpint(&[0, 0, 0x12]).0, vec![0, 0, 0, 1, 0x12]);
        assert_eq!(Writer::default().mpint(&[0x80, 1]).0, vec![0, 0, 0, 3, 0, 0x80, 1]);
        assert_eq!(Writer::default().mpint(&[0, 0]).0, vec![0, 0, 0, 0]);
    }

    #[tokio::test]
    async fn packets_round_trip_with_valid_padding() {
        for n in [0usize, 1, 3, 11, 12, 100] {
            let payload: Vec<u8> = (0..n as u8).collect();
            let mut out = Vec::new();
            write_packet(&mut out, &payload).await.expect("write");
            assert_eq!(out.len() % 8, 0, "length {n}");
            assert!(out[4] >= 4, "padding {}", out[4]);
            let back = read_packet(&mut out.as_slice()).await.expect("read");
            assert_eq!(back, payload);
        }
    }

    #[tokio::test]
    async fn oversized_packets_are_refused() {
        let mut bytes: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0];
        assert!(read_packet(&mut bytes).await.is_err());
    }
}
