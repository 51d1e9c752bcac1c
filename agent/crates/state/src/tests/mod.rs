//! Scenario tests over hand-built records (wire bytes built from the ABI
//! structs, as saker-abi's own tests do).

mod fds;
mod fuzz;
mod procs;
mod upstream;

use crate::decode::{AF_INET, AF_UNIX};
use crate::state::{State, StateConfig};
use crate::sys::nr_of;
use saker_abi::{hdr_flags, kind, EventHeader, Record, HEADER_SIZE};
use saker_filter::fields::{FieldArg, FieldId, FieldRef, FieldSource, Value, Values};
use std::sync::Arc;

/// Builds one record.
pub(crate) struct Rb {
    h: EventHeader,
    blobs: Vec<(u8, u8, Vec<u8>)>,
}

impl Rb {
    pub fn new(k: u8, sys: &str, pid: u32, tid: u32) -> Self {
        let mut comm = [0u8; 16];
        comm[..4].copy_from_slice(b"test");
        Rb {
            h: EventHeader {
                kind: k,
                syscall_nr: nr_of(sys).unwrap_or(0),
                pid,
                tid,
                vpid: pid,
                vtid: tid,
                flags: hdr_flags::TASK_INFO,
                loginuid: u32::MAX,
                ts_ns: 1_000_000_000,
                comm,
                ..Default::default()
            },
            blobs: Vec::new(),
        }
    }
    pub fn sys(sys: &str, pid: u32) -> Self {
        Self::new(kind::SYSCALL, sys, pid, pid)
    }
    pub fn res(mut self, r: i64) -> Self {
        self.h.res = r;
        self
    }
    pub fn arg(mut self, i: usize, v: u64) -> Self {
        self.h.args[i] = v;
        self
    }
    pub fn blob(mut self, i: u8, b: &[u8]) -> Self {
        self.blobs.push((i, 0, b.to_vec()));
        self
    }
    /// `BLOB_LOCAL_ADDR` as the kernel writes it: the socket type, padding,
    /// then the socket's own sockaddr.
    pub fn local(self, sock_type: u16, addr: &[u8]) -> Self {
        let mut v = sock_type.to_le_bytes().to_vec();
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(addr);
        self.blob(saker_abi::BLOB_LOCAL_ADDR, &v)
    }
    pub fn path(self, i: u8, p: &str) -> Self {
        let mut v = p.as_bytes().to_vec();
        v.push(0);
        self.blob(i, &v)
    }
    pub fn comm(mut self, c: &str) -> Self {
        self.h.comm = [0; 16];
        let n = c.len().min(15);
        self.h.comm[..n].copy_from_slice(&c.as_bytes()[..n]);
        self
    }
    pub fn ppid(mut self, p: u32) -> Self {
        self.h.ppid = p;
        self
    }
    pub fn ts(mut self, t: u64) -> Self {
        self.h.ts_ns = t;
        self
    }
    pub fn uid(mut self, u: u32) -> Self {
        self.h.uid = u;
        self.h.euid = u;
        self
    }
    pub fn vpid(mut self, v: u32) -> Self {
        self.h.vpid = v;
        self.h.vtid = v;
        self
    }
    pub fn pidns(mut self, ns: u32) -> Self {
        self.h.pidns = ns;
        self
    }
    /// Most records carry no task facts (the kernel reads them at clone
    /// and exec only).
    pub fn clear_task_info(&mut self) {
        self.h.flags &= !hdr_flags::TASK_INFO;
    }
    pub fn loginuid(mut self, l: u32) -> Self {
        self.h.loginuid = l;
        self
    }
    pub fn caps(mut self, eff: u64) -> Self {
        self.h.cap_effective = eff;
        self.h.cap_permitted = eff;
        self
    }
    pub fn bytes(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for (arg, flags, b) in &self.blobs {
            body.push(*arg);
            body.push(*flags);
            body.extend_from_slice(&(b.len() as u16).to_le_bytes());
            body.extend_from_slice(b);
        }
        let mut h = self.h;
        h.len = (HEADER_SIZE + body.len()) as u32;
        h.nblobs = self.blobs.len() as u8;
        // SAFETY: plain-old-data header viewed as bytes.
        let hb = unsafe { core::slice::from_raw_parts(&h as *const _ as *const u8, HEADER_SIZE) };
        let mut out = hb.to_vec();
        out.extend_from_slice(&body);
        out
    }
}

pub(crate) fn sin(ip: [u8; 4], port: u16) -> Vec<u8> {
    let mut v = AF_INET.to_ne_bytes().to_vec();
    v.extend_from_slice(&port.to_be_bytes());
    v.extend_from_slice(&ip);
    v.extend_from_slice(&[0; 8]);
    v
}

pub(crate) fn test_state() -> State {
    let cfg = StateConfig {
        proc_fallback: false,
        exe_facts: false,
        ..Default::default()
    };
    let mut s = State::new(cfg);
    s.set_clock(crate::Clock::with_offset(0));
    s
}

/// A shell-like process 100 (parent 1) with cwd /home/u.
pub(super) fn seeded() -> State {
    let mut s = test_state();
    let mut init = crate::Process::new(1);
    init.name = Arc::from("systemd");
    s.procs.insert(init);
    let mut p = crate::Process::new(100);
    p.ppid = 1;
    p.name = Arc::from("bash");
    p.exe = Arc::from("bash");
    p.exepath = Arc::from("/usr/bin/bash");
    p.cwd = Arc::from("/home/u");
    p.sid = 100;
    p.vpid = 100;
    s.procs.insert(p);
    s
}

pub(super) fn apply(s: &mut State, rb: Rb) -> Vec<u8> {
    let b = rb.bytes();
    let rec = Record::parse(&b).expect("valid record");
    s.apply(&rec);
    b
}

/// Extracts one field as text (first value).
pub(super) fn field(s: &State, bytes: &[u8], id: FieldId, arg: FieldArg) -> Option<String> {
    let rec = Record::parse(bytes).unwrap();
    let v = s.view(&rec);
    let mut out = Values::new();
    if !v.extract(&FieldRef { id, arg }, &mut out) {
        return None;
    }
    Some(match out[0] {
        Value::Str(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::U64(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Ip(ip) => ip.to_string(),
    })
}

pub(super) fn f(s: &State, b: &[u8], id: FieldId) -> Option<String> {
    field(s, b, id, FieldArg::None)
}

pub(super) fn evt_arg(s: &State, b: &[u8], name: &str) -> Option<String> {
    field(s, b, FieldId::EvtArg, FieldArg::Key(name.into()))
}

/// execve enter + exit for `pid`.
pub(super) fn exec(s: &mut State, pid: u32, file: &str, argv: &[&str]) -> Vec<u8> {
    let mut a = Vec::new();
    for x in argv {
        a.extend_from_slice(x.as_bytes());
        a.push(0);
    }
    apply(
        s,
        Rb::new(kind::SYSCALL_ENTER, "execve", pid, pid)
            .path(0, file)
            .blob(1, &a),
    );
    let comm = file.rsplit('/').next().unwrap_or(file);
    apply(
        s,
        Rb::new(kind::SYSCALL_EXIT, "execve", pid, pid)
            .comm(comm)
            .res(0),
    )
}

#[test]
fn state_can_move_to_the_capture_thread() {
    fn send<T: Send>() {}
    send::<State>();
}
