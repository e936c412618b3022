//! Parsing of GraphQL request documents. SDK pipelines nest one selection level per chained call
//! (`container { from { withExec { withExec ... } } }`), far deeper than general-purpose parsers
//! allow, so the session parses documents itself, within its own nesting budget, and hands the
//! parsed document to the executor.

mod integer_enums;
mod lexer;
mod parser;

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Pos, ServerError};

/// Nesting allowed in a request document (selection sets, list/object values, types).
pub const MAX_NESTING: usize = 1_000;

/// A document that is not valid GraphQL, with where the problem starts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("syntax error at line {}, column {}: {message}", pos.line, pos.column)]
pub struct SyntaxError {
    /// What is wrong.
    pub message: String,
    /// Where it is.
    pub pos: Pos,
}

impl SyntaxError {
    fn new(message: impl Into<String>, pos: Pos) -> Self {
        SyntaxError {
            message: message.into(),
            pos,
        }
    }
}

impl From<SyntaxError> for ServerError {
    fn from(e: SyntaxError) -> Self {
        ServerError::new(e.to_string(), Some(e.pos))
    }
}

/// Parses a request document within [`MAX_NESTING`].
pub fn parse(source: &str) -> Result<ExecutableDocument, SyntaxError> {
    parser::parse(source, MAX_NESTING)
}

/// Parses `request.query` with [`parse`], accepts the integer enum literals of older Node SDKs,
/// and attaches the result to the request.
pub fn prepare(mut request: async_graphql::Request) -> Result<async_graphql::Request, SyntaxError> {
    let mut document = parse(&request.query)?;
    integer_enums::rewrite_integer_enums(&mut document);
    request.set_parsed_query(document);
    Ok(request)
}

#[cfg(test)]
mod tests;
