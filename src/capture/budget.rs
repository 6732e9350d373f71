//! A shared memory budget for the body copies of all exchanges in flight.
//!
//! Each copy is capped (`--max-body`), but many large bodies at once would still add up;
//! past the budget, copies are cut short (marked truncated) while the traffic itself flows
//! on untouched. Leases give their bytes back when the record has been written.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug)]
pub struct Budget {
    remaining: AtomicI64,
}

impl Budget {
    pub fn new(bytes: usize) -> Arc<Self> {
        Arc::new(Budget {
            remaining: AtomicI64::new(bytes as i64),
        })
    }

    /// Take `n` bytes if that many are left.
    pub fn try_take(&self, n: usize) -> bool {
        let n = n as i64;
        let before = self.remaining.fetch_sub(n, Ordering::AcqRel);
        if before >= n {
            true
        } else {
            self.remaining.fetch_add(n, Ordering::AcqRel);
            false
        }
    }

    fn give(&self, n: usize) {
        self.remaining.fetch_add(n as i64, Ordering::AcqRel);
    }

    pub fn remaining(&self) -> i64 {
        self.remaining.load(Ordering::Acquire)
    }
}

/// Bytes held from a [`Budget`], given back on drop.
#[derive(Debug)]
pub struct Lease {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Lease {
    pub fn new(budget: Arc<Budget>) -> Self {
        Lease { budget, bytes: 0 }
    }

    /// Grow the lease by `n` bytes; false when the budget is spent.
    pub fn grow(&mut self, n: usize) -> bool {
        if self.budget.try_take(n) {
            self.bytes += n;
            true
        } else {
            false
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.budget.give(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_take_and_give_back() {
        let b = Budget::new(100);
        let mut a = Lease::new(b.clone());
        assert!(a.grow(60));
        let mut c = Lease::new(b.clone());
        assert!(!c.grow(60));
        assert!(c.grow(40));
        assert_eq!(b.remaining(), 0);
        drop(a);
        assert_eq!(b.remaining(), 60);
        drop(c);
        assert_eq!(b.remaining(), 100);
    }
}
