//! Lesson 07: deadlock. Bank transfers that lock two accounts, and the dining philosophers.
//!
//! Everything here works on one thread. Run it on several and it stops: two transfers in opposite
//! directions, or five philosophers at one table, can end up waiting for each other forever. Read
//! the lesson's README.md, then run `grader check 07` to see how. The public API is fixed (the
//! checks call exactly these functions); everything private is up to you. Reach every primitive
//! through `crate::sync` (`Mutex`, `MutexGuard`, `Arc`, `thread`, ...), never `std::sync`
//! directly: the model checker can only see what goes through the shim.

pub mod sync;

use crate::sync::{thread, Arc, Mutex, MutexGuard};

pub type AccountId = usize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferError {
    /// `from` and `to` are the same account.
    SameAccount,
    /// No account has this id.
    NoSuchAccount(AccountId),
    /// `from` holds less than the amount.
    InsufficientFunds { needed: u64, available: u64 },
}

/// Accounts, each behind its own Mutex (one lock per account, not one for the bank).
pub struct Bank {
    accounts: Vec<Mutex<u64>>,
}

fn lock(account: &Mutex<u64>) -> MutexGuard<'_, u64> {
    account.lock().unwrap()
}

impl Bank {
    /// One account per balance; account `i` starts with `balances[i]`.
    pub fn new(balances: &[u64]) -> Bank {
        Bank {
            accounts: balances.iter().map(|&b| Mutex::new(b)).collect(),
        }
    }

    /// How many accounts there are.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The balance of account `id` now, or None if there is no such account.
    pub fn balance(&self, id: AccountId) -> Option<u64> {
        self.accounts.get(id).map(|account| *lock(account))
    }

    /// Moves `amount` from one account to another as one indivisible step. Locks only those two
    /// accounts; never deadlocks, whatever transfers run at the same time in whatever directions;
    /// transfers between disjoint pairs run in parallel. Errors are decided under the locks and
    /// change nothing.
    pub fn transfer(
        &self,
        from: AccountId,
        to: AccountId,
        amount: u64,
    ) -> Result<(), TransferError> {
        self.transfer_with(from, to, amount, || {})
    }

    /// `transfer`, calling `while_locked` after the balances changed and before either lock is
    /// released (the checks use it to hold a transfer open and to audit it).
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
        if from == to {
            return Err(TransferError::SameAccount);
        }
        // The money leaves `from`, so lock `from`, then `to`.
        let mut source = lock(&self.accounts[from]);
        let mut target = lock(&self.accounts[to]);
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

    /// The sum of all balances at one instant, consistent with every completed transfer and no half
    /// of one (always the initial total).
    pub fn total(&self) -> u64 {
        (0..self.len()).filter_map(|id| self.balance(id)).sum()
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
                // Philosopher p sits between fork p - 1 (on his left) and fork p (on his right).
                let (left, right) = ((p + n - 1) % n, p);
                let mut eaten = 0;
                for meal in 0..meals {
                    let _left = forks[left].lock().unwrap();
                    let _right = forks[right].lock().unwrap();
                    eat(p, meal);
                    eaten += 1;
                }
                eaten
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}
