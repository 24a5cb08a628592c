//! The closed path and the rejection path allocate nothing, measured with a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use stanchion_breaker::{CircuitBreaker, SlidingWindow, State};

/// Counts allocations made by the current thread (other test threads do not disturb it).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counter is a plain
// thread-local cell that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: the caller upholds `alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn closed_calls_and_rejections_do_not_allocate() {
    let breaker = CircuitBreaker::builder()
        .sliding_window(SlidingWindow::Count(100))
        .minimum_calls(10)
        .build()
        .unwrap();
    // Warm up: the striped counter's thread-local is set on first use.
    let _ = breaker.call(|| Ok::<_, ()>(()));

    let closed = allocations_during(|| {
        for i in 0..10_000u32 {
            let _ = breaker.call(|| if i % 7 == 0 { Err(i) } else { Ok(i) });
        }
    });
    assert_eq!(closed, 0, "closed path");

    breaker.transition_to_open().unwrap();
    assert_eq!(breaker.state(), State::Open);
    let _ = breaker.try_acquire();
    let rejected = allocations_during(|| {
        for _ in 0..10_000 {
            assert!(breaker.try_acquire().is_err());
        }
    });
    assert_eq!(rejected, 0, "rejection path");
}
