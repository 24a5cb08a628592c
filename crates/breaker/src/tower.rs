//! A `tower::Layer` that puts a [`CircuitBreaker`] in front of a service (feature `tower`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::{CallError, CircuitBreaker, Classifier, OwnedPermit, Rejected, Verdict};

/// Wraps services in a [`CircuitBreakerService`] sharing one breaker.
///
/// # Examples
///
/// ```
/// use stanchion_breaker::{CircuitBreaker, CircuitBreakerLayer};
/// use tower::{ServiceBuilder, service_fn};
///
/// let breaker = CircuitBreaker::builder().build().unwrap();
/// // The error type is the inner service's; name it where nothing else pins it down.
/// let greeter = ServiceBuilder::new()
///     .layer(CircuitBreakerLayer::<std::io::Error>::new(breaker))
///     .service(service_fn(|name: String| async move { Ok::<_, std::io::Error>(format!("hello {name}")) }));
/// # let _ = greeter;
/// ```
pub struct CircuitBreakerLayer<E> {
    breaker: CircuitBreaker,
    classifier: Arc<Classifier<E>>,
}

impl<E> CircuitBreakerLayer<E> {
    /// A layer counting every error of the inner service as a failure.
    pub fn new(breaker: CircuitBreaker) -> Self {
        Self {
            breaker,
            classifier: Arc::new(Classifier::new()),
        }
    }

    /// A layer letting `classifier` decide how the inner service's errors count.
    pub fn with_classifier(breaker: CircuitBreaker, classifier: Classifier<E>) -> Self {
        Self {
            breaker,
            classifier: Arc::new(classifier),
        }
    }
}

impl<E> Clone for CircuitBreakerLayer<E> {
    fn clone(&self) -> Self {
        Self {
            breaker: self.breaker.clone(),
            classifier: Arc::clone(&self.classifier),
        }
    }
}

impl<E> fmt::Debug for CircuitBreakerLayer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

impl<S, E> Layer<S> for CircuitBreakerLayer<E> {
    type Service = CircuitBreakerService<S, E>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService {
            inner,
            breaker: self.breaker.clone(),
            classifier: Arc::clone(&self.classifier),
            readiness: Readiness::Idle,
        }
    }
}

/// What `poll_ready` decided for the next `call`.
#[derive(Debug)]
enum Readiness {
    Idle,
    Permitted(OwnedPermit),
    Rejected(Rejected),
}

/// A service behind a circuit breaker. `poll_ready` asks the breaker first: a refusal makes the
/// service ready at once, without polling the inner service, and the next `call` returns
/// [`CallError::Rejected`] without calling it.
pub struct CircuitBreakerService<S, E> {
    inner: S,
    breaker: CircuitBreaker,
    classifier: Arc<Classifier<E>>,
    readiness: Readiness,
}

impl<S: Clone, E> Clone for CircuitBreakerService<S, E> {
    /// A clone has no permit of its own yet: it asks the breaker in its own `poll_ready`.
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            breaker: self.breaker.clone(),
            classifier: Arc::clone(&self.classifier),
            readiness: Readiness::Idle,
        }
    }
}

impl<S: fmt::Debug, E> fmt::Debug for CircuitBreakerService<S, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerService")
            .field("inner", &self.inner)
            .field("breaker", &self.breaker)
            .field("readiness", &self.readiness)
            .finish_non_exhaustive()
    }
}

impl<S, R, E> Service<R> for CircuitBreakerService<S, E>
where
    S: Service<R, Error = E>,
{
    type Response = S::Response;
    type Error = CallError<E>;
    type Future = ResponseFuture<S::Future, E>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // A refusal is asked again at each poll: the breaker may have opened its gate since.
        if !matches!(self.readiness, Readiness::Permitted(_)) {
            self.readiness = match self.breaker.try_acquire_owned() {
                Ok(permit) => Readiness::Permitted(permit),
                Err(rejected) => Readiness::Rejected(rejected),
            };
        }
        match self.readiness {
            Readiness::Rejected(_) => Poll::Ready(Ok(())),
            _ => self.inner.poll_ready(cx).map_err(CallError::Inner),
        }
    }

    fn call(&mut self, request: R) -> Self::Future {
        let readiness = std::mem::replace(&mut self.readiness, Readiness::Idle);
        // Called without poll_ready (a contract breach): ask the breaker now rather than panic.
        let readiness = match readiness {
            Readiness::Idle => match self.breaker.try_acquire_owned() {
                Ok(permit) => Readiness::Permitted(permit),
                Err(rejected) => Readiness::Rejected(rejected),
            },
            decided => decided,
        };
        match readiness {
            Readiness::Permitted(permit) => ResponseFuture {
                state: State::Running {
                    future: self.inner.call(request),
                    permit: Some(permit),
                },
                classifier: Arc::clone(&self.classifier),
            },
            Readiness::Rejected(rejected) => ResponseFuture {
                state: State::Rejected {
                    rejected: Some(rejected),
                },
                classifier: Arc::clone(&self.classifier),
            },
            Readiness::Idle => unreachable!("decided above"),
        }
    }
}

pin_project! {
    /// The response of a [`CircuitBreakerService`]: the inner future with its permit, or the
    /// refusal. Dropping it before it finishes records nothing and frees a half-open trial slot.
    pub struct ResponseFuture<F, E> {
        #[pin]
        state: State<F>,
        classifier: Arc<Classifier<E>>,
    }
}

pin_project! {
    #[project = StateProjection]
    enum State<F> {
        Running { #[pin] future: F, permit: Option<OwnedPermit> },
        Rejected { rejected: Option<Rejected> },
    }
}

impl<F, E> fmt::Debug for ResponseFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, T, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, CallError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.state.project() {
            StateProjection::Rejected { rejected } => Poll::Ready(Err(CallError::Rejected(
                rejected.take().expect("polled after completion"),
            ))),
            StateProjection::Running { future, permit } => {
                let result = std::task::ready!(future.poll(cx));
                let permit = permit.take().expect("polled after completion");
                permit.settle(
                    result
                        .as_ref()
                        .err()
                        .map_or(Verdict::Success, |error| this.classifier.classify(error)),
                );
                Poll::Ready(result.map_err(CallError::Inner))
            }
        }
    }
}
