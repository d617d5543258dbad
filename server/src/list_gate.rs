//! How many list queries may run at once, and one fewer while writes are
//! in flight.
//!
//! A list keeps a core busy while it runs (PostgreSQL's or SQLite's, then
//! the server's for its rows), so lists beyond the cores only take time
//! from what runs beside them. Of that, adapters' reports matter most:
//! they are the control loop, and a report is a short transaction of
//! several round trips, each of which waits for a core when lists hold
//! them all. So while any write transaction is open, a list that starts
//! takes a second, narrower permit too: lists then hold at most all but
//! one of their permits, and the writes find a core free. A list already
//! running is not stopped; the narrower permit applies to lists that start
//! while writes are in flight, which for a steady stream of reports is
//! every list.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{AcquireError, Semaphore, SemaphorePermit};

/// The permits lists take (see the module documentation).
pub struct ListGate {
    every: Semaphore,
    /// One permit fewer than `every`, taken besides it while writes are in
    /// flight; `None` with a single permit, which lists then keep.
    beside_writes: Option<Semaphore>,
    writes: AtomicUsize,
}

/// A list's turn; the list may run until it is dropped.
pub struct ListTurn<'a> {
    _every: SemaphorePermit<'a>,
    _beside_writes: Option<SemaphorePermit<'a>>,
}

/// An open write transaction, counted until dropped.
pub struct Writing<'a> {
    writes: &'a AtomicUsize,
}

impl ListGate {
    /// A gate that lets `permits` lists run at once (at least one).
    pub fn new(permits: usize) -> Self {
        let permits = permits.max(1);
        Self {
            every: Semaphore::new(permits),
            beside_writes: (permits > 1).then(|| Semaphore::new(permits - 1)),
            writes: AtomicUsize::new(0),
        }
    }

    /// Wait for a list's turn. Fails only if the gate's semaphores were
    /// closed, which nothing does while the server runs.
    pub async fn enter(&self) -> Result<ListTurn<'_>, AcquireError> {
        // Always `every` first, then the narrower permit: a list holding the
        // narrower one holds `every` too, so no two lists wait on each other.
        let every = self.every.acquire().await?;
        let beside_writes = match &self.beside_writes {
            Some(narrower) if self.writes.load(Ordering::Acquire) > 0 => {
                Some(narrower.acquire().await?)
            }
            _ => None,
        };
        Ok(ListTurn {
            _every: every,
            _beside_writes: beside_writes,
        })
    }

    /// Count a write transaction as in flight until the guard is dropped;
    /// take it before the transaction begins, drop it after it ends.
    pub fn writing(&self) -> Writing<'_> {
        self.writes.fetch_add(1, Ordering::AcqRel);
        Writing {
            writes: &self.writes,
        }
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.writes.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether a list can enter within a moment (the gate is in memory, so
    /// a free permit is taken at once).
    async fn enters(gate: &ListGate) -> Option<ListTurn<'_>> {
        tokio::time::timeout(Duration::from_millis(50), gate.enter())
            .await
            .ok()
            .and_then(Result::ok)
    }

    #[tokio::test]
    async fn without_writes_every_permit_is_a_turn() {
        let gate = ListGate::new(2);
        let first = enters(&gate).await;
        let second = enters(&gate).await;
        assert!(first.is_some() && second.is_some());
        assert!(enters(&gate).await.is_none(), "a third list must wait");
    }

    #[tokio::test]
    async fn while_writing_lists_leave_one_permit() {
        let gate = ListGate::new(2);
        let writing = gate.writing();
        let first = enters(&gate).await;
        assert!(first.is_some());
        assert!(
            enters(&gate).await.is_none(),
            "a second list must wait while a write is in flight"
        );
        drop(writing);
        drop(first);
        let first = enters(&gate).await;
        let second = enters(&gate).await;
        assert!(
            first.is_some() && second.is_some(),
            "once the write is done, both permits are turns again"
        );
    }

    #[tokio::test]
    async fn a_single_permit_stays_a_turn_while_writing() {
        let gate = ListGate::new(1);
        let _writing = gate.writing();
        assert!(enters(&gate).await.is_some());
    }
}
