//! Evaluating a compiled filter (no transformers) does not allocate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};

use saker_filter::fields::{FieldArg, FieldId, FieldRef, FieldSource, Value, Values};
use saker_filter::{compile, compile_format, parse, Env, Memo, SlotTable};

struct Counting;

thread_local! {
    // Per thread: the test harness's own threads allocate at any time.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A source that hands out borrowed values only, like the agent's tables.
struct Event {
    name: String,
    cmdline: String,
    ancestors: Vec<String>,
}

impl FieldSource for Event {
    fn evt_type(&self) -> &str {
        "execve"
    }
    fn extract<'a>(&'a self, f: &FieldRef, out: &mut Values<'a>) -> bool {
        match (f.id, &f.arg) {
            (FieldId::EvtType, _) => out.push(Value::Str("execve")),
            (FieldId::ProcName, _) => out.push(Value::Str(&self.name)),
            (FieldId::ProcCmdline, _) => out.push(Value::Str(&self.cmdline)),
            (FieldId::ProcPid, _) => out.push(Value::U64(4242)),
            (FieldId::FdSip, _) => out.push(Value::Ip(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)))),
            (FieldId::ProcAname, FieldArg::None) => {
                out.extend(self.ancestors.iter().map(|a| Value::Str(a)))
            }
            // [0] is the process itself, [1] the parent.
            (FieldId::ProcAname, FieldArg::Index(0)) => out.push(Value::Str(&self.name)),
            (FieldId::ProcAname, FieldArg::Index(i)) => match self.ancestors.get(*i as usize - 1) {
                Some(a) => out.push(Value::Str(a)),
                None => return false,
            },
            _ => return false,
        }
        true
    }
}

#[test]
fn matching_and_rendering_fields_do_not_allocate() {
    let cond = "evt.type in (execve, execveat) and proc.name in (bash, sh, zsh) \
        and (proc.cmdline contains shadow or proc.cmdline contains passwd \
             or proc.cmdline contains xmrig or proc.cmdline icontains SUDO) \
        and proc.aname = sshd and proc.aname[1] startswith ss and not proc.tty exists \
        and proc.pid > 100 and fd.sip in (10.0.0.0/8) and proc.cmdline glob '*cat*' \
        and proc.cmdline regex '.*shadow.*' and proc.name pmatch (/bin, bash)";
    let f = compile(&parse(cond).unwrap(), &Env::default()).unwrap();
    // The engine's path: numbered fields and checks, a memo, a plan
    // specialised to the event type.
    let mut g = compile(&parse(cond).unwrap(), &Env::default()).unwrap();
    let mut slots = SlotTable::new([&g, &f]);
    g.assign_slots(&mut slots);
    let g = g.specialize("execve");
    let out = compile_format("%proc.name %proc.pid %proc.aname[1] %proc.tty").unwrap();
    let ev = Event {
        name: "bash".into(),
        cmdline: "bash -c cat /etc/shadow".into(),
        ancestors: vec!["sshd".into(), "systemd".into()],
    };
    // Warm up lazily initialised state (regex caches).
    assert!(f.matches(&ev));
    assert!(g.matches_memo(&Memo::new(&ev)));
    let before = allocs();
    let mut hits = 0;
    for _ in 0..1000 {
        if f.matches(&ev) {
            hits += 1;
        }
        if g.matches_memo(&Memo::new(&ev)) {
            hits += 1;
        }
        out.render_fields(&ev, |_, v| {
            if v.is_some() {
                hits += 1;
            }
        });
    }
    let after = allocs();
    assert_eq!(hits, 5000);
    assert_eq!(after - before, 0, "evaluation allocated");
}
