//! Broker addresses, and blocking socket I/O bound by an overall deadline: every connect,
//! read and write may take only the time left.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The instant by which the whole operation must be done.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deadline(pub Instant);

impl Deadline {
    /// The time left; zero once passed.
    pub fn left(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// The time left, or a timeout error when there is none.
    pub fn remaining(self) -> io::Result<Duration> {
        match self.left() {
            left if left.is_zero() => Err(io::Error::new(ErrorKind::TimedOut, "deadline reached")),
            left => Ok(left),
        }
    }
}

/// A broker's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct BrokerAddr {
    host: String,
    port: u16,
}

impl BrokerAddr {
    /// The address of a broker as the cluster describes it; `None` if it is not one.
    pub fn from_metadata(host: &str, port: i32) -> Option<Self> {
        let port = u16::try_from(port).ok().filter(|p| *p > 0)?;
        (!host.is_empty()).then(|| BrokerAddr {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for BrokerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses a `host:port` (or `[ipv6]:port`) bootstrap entry.
pub(super) fn parse_broker(entry: &str) -> std::result::Result<BrokerAddr, String> {
    let entry = entry.trim();
    let (host, port) = entry
        .rsplit_once(':')
        .ok_or_else(|| format!("'{entry}' has no port (expected host:port)"))?;
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => ipv6,
        None if host.contains(':') => return Err(format!("'{entry}': write an IPv6 address as [addr]:port")),
        None => host,
    };
    if host.is_empty() {
        return Err(format!("'{entry}' has no host (expected host:port)"));
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(BrokerAddr {
            host: host.to_string(),
            port,
        }),
        _ => Err(format!("'{entry}' has an invalid port '{port}' (expected host:port)")),
    }
}

/// Connects to the first of `addr`'s addresses that accepts.
pub(super) fn connect(addr: &BrokerAddr, deadline: Deadline) -> io::Result<TcpStream> {
    let mut last = io::Error::new(ErrorKind::NotFound, "the host resolves to no address");
    for socket_addr in (addr.host.as_str(), addr.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&socket_addr, deadline.remaining()?) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A read or write that ran into its socket timeout, reported as the timeout it is.
fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == ErrorKind::WouldBlock {
        io::Error::new(ErrorKind::TimedOut, "no answer before the deadline")
    } else {
        e
    }
}

/// Writes all of `bytes` before the deadline.
pub(super) fn write_all(stream: &mut TcpStream, mut bytes: &[u8], deadline: Deadline) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.set_write_timeout(Some(deadline.remaining()?))?;
        match stream.write(bytes) {
            Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "connection closed")),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(e)),
        }
    }
    Ok(())
}

/// Fills `buf` before the deadline; the end of the stream is an error.
pub(super) fn read_exact(stream: &mut TcpStream, mut buf: &mut [u8], deadline: Deadline) -> io::Result<()> {
    while !buf.is_empty() {
        stream.set_read_timeout(Some(deadline.remaining()?))?;
        match stream.read(buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "connection closed by the broker",
                ))
            }
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(e)),
        }
    }
    Ok(())
}
