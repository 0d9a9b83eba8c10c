//! The one error type every layer returns. It records where a failure came from (the client, a backend, or
//! Viaduc itself) and whether retrying may help; front-ends turn it into their protocol's codes only at the edge
//! (an EWS ResponseCode or SOAP fault, a MAPI `ec*` code or X-ResponseCode, an HTTP status).

use std::fmt;

/// Where a failure originated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The request was wrong (malformed, unknown id, not allowed).
    Client,
    /// A backend server failed, refused or could not be reached.
    Backend(Backend),
    /// A bug or an unexpected state inside Viaduc.
    Internal,
}

/// Which backend a failure concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Imap,
    Dav,
    Smtp,
    Sieve,
    Ldap,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Imap => "imap",
            Backend::Dav => "dav",
            Backend::Smtp => "smtp",
            Backend::Sieve => "sieve",
            Backend::Ldap => "ldap",
        }
    }
}

/// What kind of failure, independent of the protocol that reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The credentials were refused.
    AuthFailed,
    /// The caller may not do this.
    AccessDenied,
    /// The object does not exist.
    NotFound,
    /// The request could not be parsed or violates the protocol.
    Malformed,
    /// The operation is not implemented by Viaduc or the backend.
    NotSupported,
    /// The object changed since the client last saw it.
    Conflict,
    /// A size or count limit was exceeded.
    TooLarge,
    /// The backend could not be reached or timed out.
    Unavailable,
    /// The backend answered with an error.
    Refused,
    /// Anything else.
    Other,
}

/// An error with its origin, kind, a retry hint and a message meant for logs and protocol error texts.
#[derive(Debug)]
pub struct Error {
    pub source: Source,
    pub kind: Kind,
    pub retryable: bool,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn client(kind: Kind, message: impl Into<String>) -> Error {
        Error { source: Source::Client, kind, retryable: false, message: message.into() }
    }
    pub fn backend(backend: Backend, kind: Kind, message: impl Into<String>) -> Error {
        let retryable = matches!(kind, Kind::Unavailable);
        Error { source: Source::Backend(backend), kind, retryable, message: message.into() }
    }
    pub fn internal(message: impl Into<String>) -> Error {
        Error { source: Source::Internal, kind: Kind::Other, retryable: false, message: message.into() }
    }
    /// A backend that could not be reached: retryable.
    pub fn unavailable(backend: Backend, message: impl Into<String>) -> Error {
        Error::backend(backend, Kind::Unavailable, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.source {
            Source::Client => write!(f, "request error ({:?}): {}", self.kind, self.message),
            Source::Backend(b) => write!(f, "{} backend error ({:?}): {}", b.name(), self.kind, self.message),
            Source::Internal => write!(f, "internal error: {}", self.message),
        }
    }
}

impl std::error::Error for Error {}
