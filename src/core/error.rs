//! Domain errors. Each says what failed and on which object; the API layer maps them to GraphQL.

use super::engine::EngineError;

/// A command that ran and exited non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    /// The command as the user gave it (entrypoint included, shim excluded).
    pub cmd: Vec<String>,
    /// Its exit code.
    pub exit_code: i32,
    /// Everything it wrote to standard output.
    pub stdout: String,
    /// Everything it wrote to standard error.
    pub stderr: String,
}

/// The daemon's own wording for a failed process, as v0.6.4 answers it: the output travels only in
/// the error's extensions, never in its message.
impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "process {:?} did not complete successfully: exit code: {}",
            self.cmd.join(" "),
            self.exit_code
        )
    }
}

/// Everything that can go wrong in the domain.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A command exited non-zero.
    #[error("{0}")]
    Exec(ExecError),
    /// An argument has a value that cannot be used.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidArgument {
        what: String,
        value: String,
        reason: String,
    },
    /// A path that must exist does not.
    #[error("{object}: {path}: no such file or directory")]
    NotFound { object: String, path: String },
    /// The engine failed while doing something for an object.
    #[error("{action}: {source}")]
    Engine { action: String, source: EngineError },
    /// The request is valid but cannot be carried out by this engine or daemon.
    #[error("{0}")]
    Unsupported(String),
    /// A service a step needs could not be started, or stopped before it was ready.
    #[error("service {service}: {message}")]
    Service { service: String, message: String },
    /// Pushing an image to a registry failed.
    #[error("publishing {address}: {source}")]
    Publish {
        address: String,
        source: crate::distribution::DistributionError,
    },
}

impl CoreError {
    /// An invalid-argument error.
    pub fn invalid(
        what: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        CoreError::InvalidArgument {
            what: what.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// Wraps an engine error with what was being done.
    pub fn engine(action: impl Into<String>, source: EngineError) -> Self {
        match source {
            EngineError::NotFound { path } => CoreError::NotFound {
                object: action.into(),
                path,
            },
            source => CoreError::Engine {
                action: action.into(),
                source,
            },
        }
    }
}

/// A pattern that does not parse is an invalid `pattern` argument.
impl From<super::patterns::PatternError> for CoreError {
    fn from(e: super::patterns::PatternError) -> Self {
        CoreError::InvalidArgument {
            what: "pattern".into(),
            value: e.pattern,
            reason: e.reason,
        }
    }
}

/// Result alias for the domain.
pub type CoreResult<T> = Result<T, CoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_error_message_is_the_daemons_without_the_output() {
        let e = ExecError {
            cmd: vec!["sh".into(), "-c".into(), "exit 3".into()],
            exit_code: 3,
            stdout: String::new(),
            stderr: "a\nb\n".into(),
        };
        assert_eq!(
            e.to_string(),
            "process \"sh -c exit 3\" did not complete successfully: exit code: 3"
        );
    }
}
