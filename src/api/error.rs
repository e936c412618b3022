//! How domain errors look on the wire: GraphQL errors whose message names the field, and the
//! `EXEC_ERROR` extensions the SDKs turn into `ExecError`.

use async_graphql::{ErrorExtensionValues, Value};

use crate::core::{CoreError, ExecError, SecretStore};

/// An error answered for one field.
#[derive(Debug)]
pub struct ApiError {
    message: String,
    exec: Option<ExecError>,
}

/// Result alias for resolvers.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with a message only.
    pub fn msg(message: impl Into<String>) -> Self {
        ApiError {
            message: message.into(),
            exec: None,
        }
    }

    /// A bad argument value, naming the argument.
    pub fn invalid_arg(arg: &str, value: &str, reason: impl std::fmt::Display) -> Self {
        let shown: String = value.chars().take(120).collect();
        let ellipsis = if value.chars().count() > 120 {
            "…"
        } else {
            ""
        };
        ApiError::msg(format!("invalid {arg} {shown:?}{ellipsis}: {reason}"))
    }

    /// This error with every secret value of the session masked.
    pub fn scrubbed(self, secrets: &SecretStore) -> Self {
        ApiError {
            message: secrets.scrub(&self.message),
            exec: self.exec.map(|e| ExecError {
                cmd: e.cmd.iter().map(|a| secrets.scrub(a)).collect(),
                exit_code: e.exit_code,
                stdout: secrets.scrub(&e.stdout),
                stderr: secrets.scrub(&e.stderr),
            }),
        }
    }

    /// The GraphQL error for field `field` (`Type.field`).
    pub fn into_graphql(self, field: &str) -> async_graphql::Error {
        match self.exec {
            Some(exec) => {
                let mut err = async_graphql::Error::new(self.message);
                err.extensions = Some(exec_error_extensions(&exec));
                err
            }
            None => async_graphql::Error::new(format!("{field}: {}", self.message)),
        }
    }
}

/// The extensions of an exec failure: exactly `_type`, `cmd`, `exitCode`, `stdout`, `stderr`.
pub fn exec_error_extensions(e: &ExecError) -> ErrorExtensionValues {
    let mut ext = ErrorExtensionValues::default();
    ext.set("_type", Value::String("EXEC_ERROR".into()));
    ext.set(
        "cmd",
        Value::List(e.cmd.iter().cloned().map(Value::String).collect()),
    );
    ext.set("exitCode", Value::Number(e.exit_code.into()));
    ext.set("stdout", Value::String(e.stdout.clone()));
    ext.set("stderr", Value::String(e.stderr.clone()));
    ext
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match &e {
            CoreError::Exec(exec) => ApiError {
                message: e.to_string(),
                exec: Some(exec.clone()),
            },
            _ => ApiError::msg(e.to_string()),
        }
    }
}
