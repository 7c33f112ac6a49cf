//! Lesson 07: deadlock. Bank transfers that lock two accounts, and the dining philosophers.
//!
//! The cure used here is a global lock order: whoever needs several locks takes them lowest index
//! first. A cycle of threads each waiting for the next one's lock would need someone to hold a
//! higher lock while waiting for a lower one, and nobody ever does that.

pub mod sync;

use crate::sync::{thread, Arc, Mutex, MutexGuard};

pub type AccountId = usize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferError {
    SameAccount,
    NoSuchAccount(AccountId),
    InsufficientFunds { needed: u64, available: u64 },
}

/// Accounts, each behind its own Mutex (one lock per account, not one for the bank).
pub struct Bank {
    accounts: Vec<Mutex<u64>>,
}

/// Locks one account. A panic while a guard was held cannot leave a balance half-written (every
/// change is one `-=` or `+=`), so a poisoned lock still holds a good value.
fn lock(account: &Mutex<u64>) -> MutexGuard<'_, u64> {
    account
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Bank {
    pub fn new(balances: &[u64]) -> Bank {
        Bank {
            accounts: balances.iter().map(|&b| Mutex::new(b)).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    pub fn balance(&self, id: AccountId) -> Option<u64> {
        self.accounts.get(id).map(|account| *lock(account))
    }

    pub fn transfer(
        &self,
        from: AccountId,
        to: AccountId,
        amount: u64,
    ) -> Result<(), TransferError> {
        self.transfer_with(from, to, amount, || {})
    }

    pub fn transfer_with<F: FnOnce()>(
        &self,
        from: AccountId,
        to: AccountId,
        amount: u64,
        while_locked: F,
    ) -> Result<(), TransferError> {
        if from >= self.accounts.len() {
            return Err(TransferError::NoSuchAccount(from));
        }
        if to >= self.accounts.len() {
            return Err(TransferError::NoSuchAccount(to));
        }
        // Locking the same Mutex twice on one thread never returns: refuse before locking.
        if from == to {
            return Err(TransferError::SameAccount);
        }
        // The global order: the lower index first, whichever direction the money goes.
        let (low, high) = (from.min(to), from.max(to));
        let mut low_guard = lock(&self.accounts[low]);
        let mut high_guard = lock(&self.accounts[high]);
        let (source, target) = if from == low {
            (&mut *low_guard, &mut *high_guard)
        } else {
            (&mut *high_guard, &mut *low_guard)
        };
        if *source < amount {
            return Err(TransferError::InsufficientFunds {
                needed: amount,
                available: *source,
            });
        }
        *source -= amount;
        *target += amount;
        while_locked();
        Ok(())
    }

    /// Takes every account's lock in the same order as `transfer` does, and only then adds up: no
    /// transfer can be half done while the sum is taken, and none can wait in a cycle with it.
    pub fn total(&self) -> u64 {
        let guards: Vec<MutexGuard<'_, u64>> = self.accounts.iter().map(lock).collect();
        guards.iter().map(|g| **g).sum()
    }
}

/// Fork i lies between philosophers i and (i + 1) % n. Runs one thread per philosopher; each eats
/// `meals` times, calling `eat(philosopher, meal)` while holding both of its forks. Joins every
/// thread and returns the meals each one ate. Panics if `philosophers < 2`.
pub fn dine<F>(philosophers: usize, meals: usize, eat: F) -> Vec<usize>
where
    F: Fn(usize, usize) + Send + Sync + 'static,
{
    assert!(
        philosophers >= 2,
        "dine needs at least 2 philosophers, got {philosophers}"
    );
    let n = philosophers;
    let forks: Arc<Vec<Mutex<()>>> = Arc::new((0..n).map(|_| Mutex::new(())).collect());
    let eat = Arc::new(eat);
    let handles: Vec<_> = (0..n)
        .map(|p| {
            let (forks, eat) = (forks.clone(), eat.clone());
            thread::spawn(move || {
                // Philosopher p sits between fork p - 1 and fork p; the lower-numbered one first.
                let (a, b) = ((p + n - 1) % n, p);
                let (first, second) = (a.min(b), a.max(b));
                let mut eaten = 0;
                for meal in 0..meals {
                    let _first = forks[first].lock().unwrap_or_else(|e| e.into_inner());
                    let _second = forks[second].lock().unwrap_or_else(|e| e.into_inner());
                    eat(p, meal);
                    eaten += 1;
                }
                eaten
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        .collect()
}
