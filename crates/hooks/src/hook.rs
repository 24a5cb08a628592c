//! What a hook is: the [`Hook`] trait, the [`Action`] it returns, and the erased form the registry
//! stores.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a hook asks the run to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action<C> {
    /// Go on with the context as it is.
    Continue,
    /// Go on with this context instead: later hooks (sequential mode) and the caller see it.
    Modify(C),
    /// Stop the run; no later hook runs (sequential mode) and the report names this hook.
    Cancel(Arc<str>),
}

impl<C> Action<C> {
    /// A [`Cancel`](Action::Cancel) with `reason`.
    pub fn cancel(reason: impl Into<Arc<str>>) -> Self {
        Self::Cancel(reason.into())
    }
}

/// The error a hook fails with. Cheap to clone: it is shared by the run report and the bus event.
#[derive(Clone)]
pub struct HookError(Arc<dyn Error + Send + Sync>);

impl HookError {
    /// Wraps any error (or a message: `HookError::new("quota exceeded")`).
    pub fn new(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self(Arc::from(error.into()))
    }

    /// The error the hook returned.
    pub fn inner(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Debug for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl PartialEq for HookError {
    /// Errors are equal when they are the same error (clones of one another).
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }
}

impl Error for HookError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

/// What a hook returns.
pub type HookResult<C> = Result<Action<C>, HookError>;

/// An asynchronous hook over contexts of type `C`.
///
/// Implement it with an `async fn`. A synchronous hook is a closure given to
/// [`HookRegistry::register_fn`](crate::HookRegistry::register_fn), which runs inline without
/// allocating a future.
///
/// ```
/// use stanchion_hooks::{Action, Hook, HookResult};
///
/// struct DenyRoot;
///
/// impl Hook<String> for DenyRoot {
///     async fn call(&self, command: &String) -> HookResult<String> {
///         if command.starts_with("sudo ") {
///             return Ok(Action::cancel("root commands are not allowed"));
///         }
///         Ok(Action::Continue)
///     }
/// }
/// ```
pub trait Hook<C>: Send + Sync + 'static {
    /// Runs the hook on `ctx`. The future is dropped, and so cancelled, when the hook's timeout
    /// passes.
    fn call(&self, ctx: &C) -> impl Future<Output = HookResult<C>> + Send;
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`Hook`] made object safe, so hooks of different types live in one list.
pub(crate) trait DynHook<C>: Send + Sync {
    fn call_boxed<'a>(&'a self, ctx: &'a C) -> BoxFuture<'a, HookResult<C>>;
}

impl<C, H: Hook<C>> DynHook<C> for H {
    fn call_boxed<'a>(&'a self, ctx: &'a C) -> BoxFuture<'a, HookResult<C>> {
        Box::pin(self.call(ctx))
    }
}

pub(crate) type SyncFn<C> = dyn Fn(&C) -> HookResult<C> + Send + Sync;

/// A registered hook's body.
pub(crate) enum Callable<C> {
    /// Runs inline on the caller's task; cannot be interrupted, so its timeout is checked after it
    /// returns.
    Sync(Box<SyncFn<C>>),
    /// Polled by the run; dropped when its timeout passes.
    Async(Box<dyn DynHook<C>>),
}

impl<C> Callable<C> {
    pub(crate) fn from_hook(hook: impl Hook<C>) -> Self {
        Self::Async(Box::new(hook))
    }

    pub(crate) fn from_fn(f: impl Fn(&C) -> HookResult<C> + Send + Sync + 'static) -> Self {
        Self::Sync(Box::new(f))
    }
}

impl<C> fmt::Debug for Callable<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sync(_) => "Callable::Sync",
            Self::Async(_) => "Callable::Async",
        })
    }
}
