//! Locks that cannot lose a write. A std lock is poisoned when a thread panics while holding it;
//! skipping the write then (`if let Ok(..) = lock.write()`) would hand out an ID that was never
//! stored or a secret that was never kept. These helpers recover the guard instead: the data a
//! panicking holder left is still the session's data, and every caller writes it.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// `lock()` for a [`Mutex`], recovering a poisoned lock.
pub(crate) trait Locked<T> {
    /// The guard, whether or not a holder panicked.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Locked<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `read()` and `write()` for an [`RwLock`], recovering a poisoned lock.
pub(crate) trait Guarded<T> {
    /// A read guard, whether or not a writer panicked.
    fn reading(&self) -> RwLockReadGuard<'_, T>;
    /// A write guard, whether or not a writer panicked.
    fn writing(&self) -> RwLockWriteGuard<'_, T>;
}

impl<T> Guarded<T> for RwLock<T> {
    fn reading(&self) -> RwLockReadGuard<'_, T> {
        self.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn writing(&self) -> RwLockWriteGuard<'_, T> {
        self.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_takes_the_write() {
        let lock = std::sync::Arc::new(RwLock::new(Vec::<u32>::new()));
        let held = lock.clone();
        let _ = std::thread::spawn(move || {
            let _guard = held.writing();
            panic!("a holder panics");
        })
        .join();
        assert!(lock.is_poisoned());
        lock.writing().push(1);
        assert_eq!(*lock.reading(), vec![1]);
        let m = Mutex::new(0);
        *m.locked() += 1;
        assert_eq!(*m.locked(), 1);
    }
}
