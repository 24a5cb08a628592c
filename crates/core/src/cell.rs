/// A cell for data handed between threads by a protocol of one's own: loom's `UnsafeCell` under
/// `--cfg stanchion_loom`, so the models in each crate's `tests/loom.rs` report any access that
/// the protocol fails to order, and std's `UnsafeCell` otherwise.
///
/// It only hands out raw pointers; dereferencing them is the caller's `unsafe`, justified by its
/// protocol.
#[derive(Debug)]
pub struct RaceCell<T>(
    #[cfg(stanchion_loom)] loom::cell::UnsafeCell<T>,
    #[cfg(not(stanchion_loom))] std::cell::UnsafeCell<T>,
);

impl<T> RaceCell<T> {
    /// A cell holding `value`.
    pub fn new(value: T) -> Self {
        #[cfg(stanchion_loom)]
        return Self(loom::cell::UnsafeCell::new(value));
        #[cfg(not(stanchion_loom))]
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a pointer for reading.
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        #[cfg(stanchion_loom)]
        return self.0.with(f);
        #[cfg(not(stanchion_loom))]
        f(self.0.get())
    }

    /// Calls `f` with a pointer for writing.
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(stanchion_loom)]
        return self.0.with_mut(f);
        #[cfg(not(stanchion_loom))]
        f(self.0.get())
    }
}
