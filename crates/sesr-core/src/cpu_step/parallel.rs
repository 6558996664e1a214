//! The bridge to libtorch's intra-op thread pool (`csrc/parallel.cpp`): the step's workers run
//! on libtorch's OpenMP threads, so no second pool spins beside them.

use super::lock;
use std::any::Any;
use std::ffi::c_void;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

extern "C" {
    fn sesr_parallel_for(n: i64, work: extern "C" fn(*mut c_void, i64, i64), context: *mut c_void);
}

/// Runs `work` over ranges that cover `0..n` on libtorch's intra-op threads
/// (`csrc/parallel.cpp`); a panic in `work` is carried back to the caller.
pub(super) fn parallel_for<F: Fn(Range<usize>) + Sync>(n: usize, work: F) {
    struct Context<'a, F> {
        work: &'a F,
        panic: Mutex<Option<Box<dyn Any + Send>>>,
    }
    extern "C" fn trampoline<F: Fn(Range<usize>) + Sync>(
        context: *mut c_void,
        begin: i64,
        end: i64,
    ) {
        // SAFETY: `context` is the `Context<F>` below, alive until `sesr_parallel_for` returns.
        let context = unsafe { &*(context as *const Context<F>) };
        let run = || (context.work)(begin as usize..end as usize);
        if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(run)) {
            lock(&context.panic).get_or_insert(panic);
        }
    }
    let context = Context {
        work: &work,
        panic: Mutex::new(None),
    };
    // SAFETY: the callback matches the C signature and never unwinds into C++.
    unsafe {
        sesr_parallel_for(
            n as i64,
            trampoline::<F>,
            &context as *const Context<F> as *mut c_void,
        )
    };
    if let Some(panic) = context
        .panic
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
    {
        std::panic::resume_unwind(panic);
    }
}
