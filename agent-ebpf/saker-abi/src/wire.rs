//! Zero-copy reading of records as they come off the ring buffer (userspace only).
//!
//! A record borrows the ring buffer bytes; nothing is allocated. Every length
//! the kernel wrote is checked against the bytes actually present, so a
//! malformed record is an error, never a panic or an out-of-bounds read.

use crate::{BlobHeader, EventHeader, BLOB_HEADER_SIZE, HEADER_SIZE};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than a header.
    Short { got: usize },
    /// The header's `len` disagrees with the bytes delivered.
    BadLength { header: u32, got: usize },
    /// A blob runs past the end of the record.
    BlobOverrun { index: u8 },
    /// A blob names an index past the last one the ABI defines (BLOB_LAST).
    BadArgIndex { index: u8, arg: u8 },
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WireError::Short { got } => write!(f, "record of {got} bytes is shorter than a header"),
            WireError::BadLength { header, got } => {
                write!(f, "record says {header} bytes but {got} were delivered")
            }
            WireError::BlobOverrun { index } => write!(f, "blob {index} runs past the record"),
            WireError::BadArgIndex { index, arg } => {
                write!(
                    f,
                    "blob {index} names argument {arg} (max {})",
                    crate::BLOB_LAST
                )
            }
        }
    }
}

/// One record: its header and the bytes of its blobs.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    pub header: EventHeader,
    blobs: &'a [u8],
    nblobs: u8,
}

/// One copied argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blob<'a> {
    pub arg: u8,
    pub flags: u8,
    pub bytes: &'a [u8],
}

impl<'a> Blob<'a> {
    pub fn truncated(&self) -> bool {
        self.flags & crate::blob_flags::TRUNCATED != 0
    }
    pub fn faulted(&self) -> bool {
        self.flags & crate::blob_flags::FAULT != 0
    }
    /// The bytes up to (not including) the first NUL.
    pub fn c_str(&self) -> &'a [u8] {
        match self.bytes.iter().position(|&b| b == 0) {
            Some(n) => &self.bytes[..n],
            None => self.bytes,
        }
    }
}

impl<'a> Record<'a> {
    /// Parses and validates one record. `bytes` is exactly what the ring buffer
    /// delivered for it.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, WireError> {
        if bytes.len() < HEADER_SIZE {
            return Err(WireError::Short { got: bytes.len() });
        }
        // SAFETY: EventHeader is repr(C), made only of integers (every bit
        // pattern is valid), and we checked there are enough bytes;
        // read_unaligned copes with the ring buffer's 8-byte alignment or worse.
        let header: EventHeader =
            unsafe { core::ptr::read_unaligned(bytes.as_ptr() as *const EventHeader) };
        let len = header.len as usize;
        if len < HEADER_SIZE || len > bytes.len() {
            return Err(WireError::BadLength {
                header: header.len,
                got: bytes.len(),
            });
        }
        let rec = Record {
            header,
            blobs: &bytes[HEADER_SIZE..len],
            nblobs: header.nblobs,
        };
        // Validate every blob once, so iteration later cannot fail.
        let mut it = rec.blobs_unchecked();
        for index in 0..rec.nblobs {
            match it.next_checked() {
                Some(Ok(b)) if b.arg > crate::BLOB_LAST => {
                    return Err(WireError::BadArgIndex { index, arg: b.arg })
                }
                Some(Ok(_)) => {}
                _ => return Err(WireError::BlobOverrun { index }),
            }
        }
        Ok(rec)
    }

    fn blobs_unchecked(&self) -> Blobs<'a> {
        Blobs {
            rest: self.blobs,
            left: self.nblobs,
        }
    }

    /// The blobs, in the order the kernel wrote them.
    pub fn blobs(&self) -> Blobs<'a> {
        self.blobs_unchecked()
    }

    /// The blob for argument `arg`, if the kernel copied one.
    pub fn blob(&self, arg: u8) -> Option<Blob<'a>> {
        self.blobs().find(|b| b.arg == arg)
    }

    /// `comm` up to its NUL.
    pub fn comm(&self) -> &[u8] {
        let c = &self.header.comm;
        let n = c.iter().position(|&b| b == 0).unwrap_or(c.len());
        &c[..n]
    }
}

/// Iterator over a record's blobs.
#[derive(Clone, Debug)]
pub struct Blobs<'a> {
    rest: &'a [u8],
    left: u8,
}

impl<'a> Blobs<'a> {
    fn next_checked(&mut self) -> Option<Result<Blob<'a>, ()>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        if self.rest.len() < BLOB_HEADER_SIZE {
            return Some(Err(()));
        }
        // SAFETY: BlobHeader is repr(C) integers; length checked just above.
        let bh: BlobHeader =
            unsafe { core::ptr::read_unaligned(self.rest.as_ptr() as *const BlobHeader) };
        let end = BLOB_HEADER_SIZE + bh.len as usize;
        if end > self.rest.len() {
            return Some(Err(()));
        }
        let blob = Blob {
            arg: bh.arg,
            flags: bh.flags,
            bytes: &self.rest[BLOB_HEADER_SIZE..end],
        };
        self.rest = &self.rest[end..];
        Some(Ok(blob))
    }
}

impl<'a> Iterator for Blobs<'a> {
    type Item = Blob<'a>;
    fn next(&mut self) -> Option<Blob<'a>> {
        // Records are validated in `parse`, so a failure here cannot happen;
        // stopping is still the safe answer if it did.
        self.next_checked().and_then(Result::ok)
    }
}

impl PartialEq for Record<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.header == other.header && self.blobs == other.blobs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind;

    extern crate std;
    use std::vec::Vec;

    fn header_bytes(h: &EventHeader) -> Vec<u8> {
        // SAFETY: plain-old-data struct viewed as bytes.
        unsafe { core::slice::from_raw_parts(h as *const _ as *const u8, HEADER_SIZE) }.to_vec()
    }

    fn build(blobs: &[(u8, u8, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (arg, flags, bytes) in blobs {
            body.push(*arg);
            body.push(*flags);
            body.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
            body.extend_from_slice(bytes);
        }
        let h = EventHeader {
            len: (HEADER_SIZE + body.len()) as u32,
            kind: kind::SYSCALL,
            nblobs: blobs.len() as u8,
            syscall_nr: 257,
            tid: 42,
            pid: 42,
            res: 3,
            comm: *b"cat\0\0\0\0\0\0\0\0\0\0\0\0\0",
            ..Default::default()
        };
        let mut out = header_bytes(&h);
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn parses_header_and_blobs() {
        let bytes = build(&[
            (1, 0, b"/etc/passwd\0"),
            (2, crate::blob_flags::TRUNCATED, b"ab"),
        ]);
        let rec = Record::parse(&bytes).unwrap();
        assert_eq!(rec.header.syscall_nr, 257);
        assert_eq!(rec.comm(), b"cat");
        let b = rec.blob(1).unwrap();
        assert_eq!(b.c_str(), b"/etc/passwd");
        assert!(!b.truncated());
        assert!(rec.blob(2).unwrap().truncated());
        assert!(rec.blob(3).is_none());
        assert_eq!(rec.blobs().count(), 2);
    }

    #[test]
    fn rejects_short_and_overlong() {
        assert!(matches!(
            Record::parse(&[0u8; 10]),
            Err(WireError::Short { got: 10 })
        ));
        let mut bytes = build(&[(1, 0, b"x\0")]);
        bytes.truncate(bytes.len() - 1);
        assert!(matches!(
            Record::parse(&bytes),
            Err(WireError::BadLength { .. })
        ));
    }

    #[test]
    fn accepts_the_exe_facts_blob_past_the_arguments() {
        let bytes = build(&[(crate::BLOB_EXE, 0, b"\xff\x41\0\0memfd:x\0")]);
        let rec = Record::parse(&bytes).unwrap();
        assert_eq!(rec.blob(crate::BLOB_EXE).unwrap().bytes.len(), 12);
    }

    #[test]
    fn accepts_the_local_address_blob() {
        let bytes = build(&[(crate::BLOB_LOCAL_ADDR, 0, &[1, 0, 0, 0, 2, 0, 0, 22])]);
        let rec = Record::parse(&bytes).unwrap();
        assert_eq!(rec.blob(crate::BLOB_LOCAL_ADDR).unwrap().bytes.len(), 8);
    }

    #[test]
    fn rejects_blob_overrun_and_bad_index() {
        let mut bytes = build(&[(1, 0, b"abc")]);
        // claim a longer blob than is present, keeping header.len consistent
        let at = HEADER_SIZE + 2;
        bytes[at..at + 2].copy_from_slice(&100u16.to_le_bytes());
        assert!(matches!(
            Record::parse(&bytes),
            Err(WireError::BlobOverrun { index: 0 })
        ));
        let bytes = build(&[(crate::BLOB_LAST + 1, 0, b"abc")]);
        assert!(matches!(
            Record::parse(&bytes),
            Err(WireError::BadArgIndex { arg: 8, .. })
        ));
        // nblobs larger than what follows
        let mut bytes = build(&[(1, 0, b"abc")]);
        bytes[5] = 2;
        assert!(matches!(
            Record::parse(&bytes),
            Err(WireError::BlobOverrun { index: 1 })
        ));
    }
}
