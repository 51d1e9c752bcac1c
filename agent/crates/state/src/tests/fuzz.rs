//! Random records (valid framing, hostile contents) never panic the tables
//! or the view.

use super::*;
use saker_abi::{kind, Record};
use saker_filter::fields::{FieldArg, FieldRef, FieldSource, Values, CATALOGUE};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, no dependency.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn random_records_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut s = seeded();
    let names: Vec<&str> = saker_abi::syscalls::SYSCALLS
        .iter()
        .map(|d| d.name)
        .collect();
    let kinds = [
        kind::SYSCALL,
        kind::SYSCALL,
        kind::SYSCALL,
        kind::SYSCALL_ENTER,
        kind::SYSCALL_EXIT,
        kind::CLONE_CHILD,
        kind::PROC_EXIT,
    ];
    let pick = |rng: &mut Rng, v: &[u64]| v[rng.below(v.len() as u64) as usize];
    for _ in 0..20_000 {
        let k = kinds[rng.below(kinds.len() as u64) as usize];
        let sys = names[rng.below(names.len() as u64) as usize];
        let pid = pick(&mut rng, &[1, 100, 101, 200, 300, 4_000_000_000]) as u32;
        let tid = if rng.below(4) == 0 { pid + 1 } else { pid };
        let mut rb = Rb::new(k, sys, pid, tid)
            .res(pick(
                &mut rng,
                &[
                    0,
                    1,
                    3,
                    200,
                    300,
                    u64::MAX,
                    (-13i64) as u64,
                    (-115i64) as u64,
                ],
            ) as i64)
            .ppid(pick(&mut rng, &[0, 1, 100, 200]) as u32)
            .ts(rng.next());
        if rng.below(3) == 0 {
            rb.clear_task_info();
        }
        for i in 0..6 {
            let r = rng.next();
            rb = rb.arg(
                i,
                pick(&mut rng, &[0, 1, 3, 4, (-100i64) as u64, u64::MAX, r]),
            );
            if rng.below(2) == 0 {
                let len = rng.below(40) as usize;
                let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                if rng.below(2) == 0 && b.len() >= 2 {
                    b[0] = pick(&mut rng, &[1, 2, 10, 17]) as u8;
                    b[1] = 0;
                }
                rb = rb.blob(i as u8, &b);
            }
        }
        // The blobs past the arguments: exe facts and the local address
        // (a socket type, padding, then a sockaddr of a random family).
        for extra in [saker_abi::BLOB_EXE, saker_abi::BLOB_LOCAL_ADDR] {
            if rng.below(3) == 0 {
                let len = rng.below(40) as usize;
                let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                if rng.below(2) == 0 && b.len() >= 6 {
                    b[4] = pick(&mut rng, &[1, 2, 10, 17]) as u8;
                    b[5] = 0;
                }
                rb = rb.blob(extra, &b);
            }
        }
        let b = apply(&mut s, rb);
        let rec = Record::parse(&b).unwrap();
        let v = s.view(&rec);
        let info = &CATALOGUE[rng.below(CATALOGUE.len() as u64) as usize];
        for arg in [
            FieldArg::None,
            FieldArg::Index(rng.below(8) as u32),
            FieldArg::Key("flags".into()),
        ] {
            let mut out = Values::new();
            v.extract(&FieldRef { id: info.id, arg }, &mut out);
        }
        let _ = v.describe();
    }
    assert!(s.stats().records >= 20_000);
}
