//! The ring-buffer reader: waits on the map's fd with tokio and hands each
//! record's bytes, borrowed from the ring, to a callback. Nothing is copied or
//! allocated per record; a record that fails validation is counted, never
//! allowed to crash the agent.

use aya::maps::{MapData, RingBuf};
use saker_abi::Record;
use tokio::io::unix::AsyncFd;

/// What the reader saw that the kernel counters cannot: records that arrived
/// malformed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReaderStats {
    pub records: u64,
    pub malformed: u64,
}

pub struct Reader {
    ring: AsyncFd<RingBuf<MapData>>,
    stats: ReaderStats,
}

/// The longest a record waits in the ring when the rate is low.
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(20);

/// Whether the consumer wants more records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

impl Reader {
    pub fn new(ring: RingBuf<MapData>) -> std::io::Result<Self> {
        // SAFETY: the RingBuf owns its map fd and moves into the AsyncFd, so
        // the fd stays open and unchanged for the AsyncFd's whole life.
        let ring = unsafe { AsyncFd::register_with_interest(ring, tokio::io::Interest::READABLE) }
            .map_err(std::io::Error::from)?;
        Ok(Reader {
            ring,
            stats: ReaderStats::default(),
        })
    }

    pub fn stats(&self) -> ReaderStats {
        self.stats
    }

    /// Drains everything available now, without waiting.
    pub fn drain(&mut self, on_record: &mut impl FnMut(&Record<'_>) -> Flow) -> Flow {
        let ring = self.ring.get_mut();
        while let Some(item) = ring.next() {
            match Record::parse(&item) {
                Ok(rec) => {
                    self.stats.records += 1;
                    if on_record(&rec) == Flow::Stop {
                        return Flow::Stop;
                    }
                }
                Err(e) => {
                    self.stats.malformed += 1;
                    tracing::warn!(error = %e, "malformed record from the kernel; counted and skipped");
                }
            }
        }
        Flow::Continue
    }

    /// Waits until the ring may have records. The kernel wakes us only once
    /// the ring is filling (wakeups are batched), so this also returns after
    /// `POLL_INTERVAL` at the latest. Readiness is cleared before the caller
    /// drains, so a record committed during the drain wakes us again.
    pub async fn wait(&mut self) -> std::io::Result<()> {
        if let Ok(guard) = tokio::time::timeout(POLL_INTERVAL, self.ring.readable_mut()).await {
            guard?.clear_ready();
        }
        Ok(())
    }

    /// Waits for records and hands them over until the callback says stop.
    pub async fn run(
        &mut self,
        mut on_record: impl FnMut(&Record<'_>) -> Flow,
    ) -> std::io::Result<()> {
        loop {
            if self.drain(&mut on_record) == Flow::Stop {
                return Ok(());
            }
            self.wait().await?;
        }
    }
}
