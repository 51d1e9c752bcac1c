//! Typed arguments from a record, without allocation.
//!
//! Every decoder takes the raw blob bytes the kernel copied and checks lengths
//! itself: a short or hostile blob gives `None`, never a panic.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use saker_abi::Record;

pub const AF_UNSPEC: u16 = 0;
pub const AF_UNIX: u16 = 1;
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

/// A decoded `struct sockaddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockAddr<'a> {
    Inet(Ipv4Addr, u16),
    Inet6(Ipv6Addr, u16),
    /// The path bytes up to the first NUL; abstract sockets keep their leading
    /// NUL replaced by nothing and are flagged.
    Unix {
        path: &'a [u8],
        abstract_ns: bool,
    },
    Other(u16),
}

impl<'a> SockAddr<'a> {
    pub fn parse(b: &'a [u8]) -> Option<SockAddr<'a>> {
        let fam = u16::from_ne_bytes(b.get(..2)?.try_into().ok()?);
        match fam {
            AF_INET => {
                let port = u16::from_be_bytes(b.get(2..4)?.try_into().ok()?);
                let ip: [u8; 4] = b.get(4..8)?.try_into().ok()?;
                Some(SockAddr::Inet(Ipv4Addr::from(ip), port))
            }
            AF_INET6 => {
                let port = u16::from_be_bytes(b.get(2..4)?.try_into().ok()?);
                let ip: [u8; 16] = b.get(8..24)?.try_into().ok()?;
                Some(SockAddr::Inet6(Ipv6Addr::from(ip), port))
            }
            AF_UNIX => {
                let rest = b.get(2..).unwrap_or(&[]);
                let (abstract_ns, rest) = match rest.first() {
                    Some(0) if rest.len() > 1 => (true, &rest[1..]),
                    _ => (false, rest),
                };
                let n = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
                Some(SockAddr::Unix {
                    path: &rest[..n],
                    abstract_ns,
                })
            }
            f => Some(SockAddr::Other(f)),
        }
    }

    pub fn family(&self) -> u16 {
        match self {
            SockAddr::Inet(..) => AF_INET,
            SockAddr::Inet6(..) => AF_INET6,
            SockAddr::Unix { .. } => AF_UNIX,
            SockAddr::Other(f) => *f,
        }
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            SockAddr::Inet(ip, _) => Some(IpAddr::V4(*ip)),
            SockAddr::Inet6(ip, _) => Some(IpAddr::V6(*ip)),
            _ => None,
        }
    }

    /// An IP address and port, for the IPv4 and IPv6 forms.
    pub fn endpoint(&self) -> Option<Endpoint> {
        Some(Endpoint {
            ip: self.ip()?,
            port: self.port().unwrap_or(0),
        })
    }

    pub fn port(&self) -> Option<u16> {
        match self {
            SockAddr::Inet(_, p) | SockAddr::Inet6(_, p) => Some(*p),
            _ => None,
        }
    }
}

/// An IP endpoint printed as Falco prints tuples (`1.2.3.4:80`, IPv6 without
/// brackets, as libsinsp does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    pub const UNSPEC_V4: Endpoint = Endpoint {
        ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        port: 0,
    };
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ip, self.port)
    }
}

/// `struct open_how` (openat2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

impl OpenHow {
    pub fn parse(b: &[u8]) -> Option<OpenHow> {
        let w = |i: usize| -> Option<u64> {
            Some(u64::from_ne_bytes(
                b.get(i * 8..i * 8 + 8)?.try_into().ok()?,
            ))
        };
        Some(OpenHow {
            flags: w(0)?,
            mode: w(1).unwrap_or(0),
            resolve: w(2).unwrap_or(0),
        })
    }
}

/// `int[2]` filled by pipe/pipe2/socketpair.
pub fn fd_pair(b: &[u8]) -> Option<(i32, i32)> {
    let a = i32::from_ne_bytes(b.get(0..4)?.try_into().ok()?);
    let c = i32::from_ne_bytes(b.get(4..8)?.try_into().ok()?);
    Some((a, c))
}

/// The first u64 of `struct clone_args` (its flags).
pub fn clone_args_flags(b: &[u8]) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(0..8)?.try_into().ok()?))
}

/// Iterator over a NUL-separated argv blob.
#[derive(Clone, Debug)]
pub struct Argv<'a> {
    rest: &'a [u8],
}

impl<'a> Argv<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Argv { rest: bytes }
    }
}

impl<'a> Iterator for Argv<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        match self.rest.iter().position(|&b| b == 0) {
            Some(n) => {
                let s = &self.rest[..n];
                self.rest = &self.rest[n + 1..];
                Some(s)
            }
            None => {
                let s = self.rest;
                self.rest = &[];
                Some(s)
            }
        }
    }
}

/// Bytes to `&str`, or `None` when not UTF-8 (paths usually are).
pub fn utf8(b: &[u8]) -> Option<&str> {
    core::str::from_utf8(b).ok()
}

/// Bytes to text, replacing invalid UTF-8 (allocates only when invalid).
pub fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Convenience accessors over one record.
pub trait RecordExt<'a> {
    /// Raw register value of argument `i` (0 when out of range).
    fn arg(&self, i: usize) -> u64;
    /// Argument `i` as a file descriptor (`int`).
    fn arg_fd(&self, i: usize) -> i32;
    /// The C-string bytes of blob `i`, if present and not faulted.
    fn str_arg(&self, i: u8) -> Option<&'a [u8]>;
    /// The raw bytes of blob `i`, if present and not faulted.
    fn blob_bytes(&self, i: u8) -> Option<&'a [u8]>;
    fn sockaddr(&self, i: u8) -> Option<SockAddr<'a>>;
    /// The socket's own address and its type (`SOCK_STREAM`...), as the
    /// kernel read them on a connect or accept exit (`BLOB_LOCAL_ADDR`).
    fn local_sockaddr(&self) -> Option<(SockAddr<'a>, u32)>;
}

impl<'a> RecordExt<'a> for Record<'a> {
    fn arg(&self, i: usize) -> u64 {
        self.header.args.get(i).copied().unwrap_or(0)
    }
    fn arg_fd(&self, i: usize) -> i32 {
        self.arg(i) as i32
    }
    fn str_arg(&self, i: u8) -> Option<&'a [u8]> {
        let b = self.blob(i)?;
        (!b.faulted()).then(|| b.c_str())
    }
    fn blob_bytes(&self, i: u8) -> Option<&'a [u8]> {
        let b = self.blob(i)?;
        (!b.faulted()).then_some(b.bytes)
    }
    fn sockaddr(&self, i: u8) -> Option<SockAddr<'a>> {
        SockAddr::parse(self.blob_bytes(i)?)
    }
    fn local_sockaddr(&self) -> Option<(SockAddr<'a>, u32)> {
        let b = self.blob_bytes(saker_abi::BLOB_LOCAL_ADDR)?;
        let ty = u16::from_le_bytes([*b.first()?, *b.get(1)?]);
        Some((SockAddr::parse(b.get(4..)?)?, ty as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sin(ip: [u8; 4], port: u16) -> Vec<u8> {
        let mut v = AF_INET.to_ne_bytes().to_vec();
        v.extend_from_slice(&port.to_be_bytes());
        v.extend_from_slice(&ip);
        v.extend_from_slice(&[0; 8]);
        v
    }

    #[test]
    fn sockaddrs() {
        let v4 = sin([10, 0, 0, 1], 443);
        let a = SockAddr::parse(&v4).unwrap();
        assert_eq!(a, SockAddr::Inet(Ipv4Addr::new(10, 0, 0, 1), 443));
        assert_eq!(a.port(), Some(443));
        let mut v6 = AF_INET6.to_ne_bytes().to_vec();
        v6.extend_from_slice(&22u16.to_be_bytes());
        v6.extend_from_slice(&[0; 4]);
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        let a = SockAddr::parse(&v6).unwrap();
        assert_eq!(a.ip(), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        let mut un = AF_UNIX.to_ne_bytes().to_vec();
        un.extend_from_slice(b"/run/x.sock\0garbage");
        assert_eq!(
            SockAddr::parse(&un),
            Some(SockAddr::Unix {
                path: b"/run/x.sock",
                abstract_ns: false
            })
        );
        let mut ab = AF_UNIX.to_ne_bytes().to_vec();
        ab.extend_from_slice(b"\0abs");
        assert!(matches!(
            SockAddr::parse(&ab),
            Some(SockAddr::Unix {
                abstract_ns: true,
                path: b"abs"
            })
        ));
        assert_eq!(
            SockAddr::parse(&17u16.to_ne_bytes()),
            Some(SockAddr::Other(17))
        );
        // truncated
        assert_eq!(SockAddr::parse(&[2]), None);
        assert_eq!(SockAddr::parse(&sin([1, 2, 3, 4], 1)[..6]), None);
    }

    #[test]
    fn argv_and_pairs() {
        let v: Vec<_> = Argv::new(b"ls\0-la\0/tmp\0").collect();
        assert_eq!(v, vec![&b"ls"[..], b"-la", b"/tmp"]);
        let v: Vec<_> = Argv::new(b"ls\0-l").collect();
        assert_eq!(v, vec![&b"ls"[..], b"-l"]);
        assert_eq!(Argv::new(b"").count(), 0);
        let mut p = 3i32.to_ne_bytes().to_vec();
        p.extend_from_slice(&4i32.to_ne_bytes());
        assert_eq!(fd_pair(&p), Some((3, 4)));
        assert_eq!(fd_pair(&p[..5]), None);
        let mut how = 0o101u64.to_ne_bytes().to_vec();
        how.extend_from_slice(&0o644u64.to_ne_bytes());
        assert_eq!(OpenHow::parse(&how).unwrap().mode, 0o644);
        assert_eq!(OpenHow::parse(&[1, 2]), None);
        let e = Endpoint {
            ip: IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)),
            port: 80,
        };
        assert_eq!(e.to_string(), "1.2.3.4:80");
    }
}
