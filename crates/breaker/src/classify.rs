use std::fmt;

/// How a finished call counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Counts as a success.
    Success,
    /// Counts as a failure.
    Failure,
    /// Counts for nothing: not in the rates, not toward half-open's quota.
    Ignore,
}

type Predicate<E> = Box<dyn Fn(&E) -> bool + Send + Sync>;

/// Decides how an error counts, as resilience4j's record and ignore lists do.
///
/// With no predicates every error is a failure. `record_if` narrows which errors are failures (the
/// rest count as successes: the dependency answered); `ignore_if` picks errors that count for
/// nothing, such as a caller's own bad request. **Ignore wins over record**: an error both
/// predicates match is ignored.
///
/// # Examples
///
/// ```
/// use stanchion_breaker::{Classifier, Verdict};
///
/// #[derive(Debug)]
/// enum HttpError { Status(u16), Timeout }
///
/// let classifier = Classifier::new()
///     .record_if(|e: &HttpError| matches!(e, HttpError::Timeout | HttpError::Status(500..)))
///     .ignore_if(|e: &HttpError| matches!(e, HttpError::Status(400..=499)));
/// assert_eq!(classifier.classify(&HttpError::Timeout), Verdict::Failure);
/// assert_eq!(classifier.classify(&HttpError::Status(404)), Verdict::Ignore);
/// assert_eq!(classifier.classify(&HttpError::Status(302)), Verdict::Success);
/// ```
pub struct Classifier<E> {
    record: Option<Predicate<E>>,
    ignore: Option<Predicate<E>>,
}

impl<E> Classifier<E> {
    /// Every error is a failure.
    pub fn new() -> Self {
        Self {
            record: None,
            ignore: None,
        }
    }

    /// Only errors matching `predicate` are failures; the others count as successes.
    pub fn record_if(mut self, predicate: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.record = Some(Box::new(predicate));
        self
    }

    /// Errors matching `predicate` count for nothing, whatever `record_if` says.
    pub fn ignore_if(mut self, predicate: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.ignore = Some(Box::new(predicate));
        self
    }

    /// How `error` counts.
    pub fn classify(&self, error: &E) -> Verdict {
        if self.ignore.as_ref().is_some_and(|ignore| ignore(error)) {
            Verdict::Ignore
        } else if self.record.as_ref().is_none_or(|record| record(error)) {
            Verdict::Failure
        } else {
            Verdict::Success
        }
    }
}

impl<E> Default for Classifier<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> fmt::Debug for Classifier<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classifier")
            .field("record_if", &self.record.is_some())
            .field("ignore_if", &self.ignore.is_some())
            .finish()
    }
}
