//! Recursive-descent parser for executable GraphQL documents (operations and fragments), with an
//! explicit nesting budget so that deep but legitimate pipelines parse and hostile ones fail
//! with an error instead of exhausting the stack.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    BaseType, Directive, DocumentOperations, ExecutableDocument, Field, FragmentDefinition,
    FragmentSpread, InlineFragment, OperationDefinition, OperationType, Selection, SelectionSet,
    Type, TypeCondition, VariableDefinition,
};
use async_graphql::{Name, Number, Pos, Positioned};
use async_graphql_value::Value;

use super::SyntaxError;
use super::lexer::{Tok, Token, tokenize};

/// Parses `source` into a document, allowing selection sets, list/object values and types to
/// nest `max_nesting` levels deep.
pub(super) fn parse(source: &str, max_nesting: usize) -> Result<ExecutableDocument, SyntaxError> {
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
        max_nesting,
    };
    parser.document()
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    max_nesting: usize,
}

type Arguments = Vec<(Positioned<Name>, Positioned<Value>)>;

impl Parser {
    fn peek(&self) -> &Token {
        // `tokenize` always ends with Eof and `advance` never moves past it.
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn pos(&self) -> Pos {
        self.peek().pos
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.tok != Tok::Eof {
            self.at += 1;
        }
        token
    }

    fn is(&self, c: char) -> bool {
        self.peek().tok == Tok::Punct(c)
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.is(c);
        if found {
            self.advance();
        }
        found
    }

    fn unexpected(&self, expected: &str) -> SyntaxError {
        let token = self.peek();
        SyntaxError::new(
            format!("expected {expected}, found {}", token.tok.describe()),
            token.pos,
        )
    }

    fn expect(&mut self, c: char) -> Result<Pos, SyntaxError> {
        if self.is(c) {
            Ok(self.advance().pos)
        } else {
            Err(self.unexpected(&format!("\"{c}\"")))
        }
    }

    fn name(&mut self) -> Result<Positioned<Name>, SyntaxError> {
        match &self.peek().tok {
            Tok::Name(n) => {
                let name = Name::new(n);
                let pos = self.advance().pos;
                Ok(Positioned::new(name, pos))
            }
            _ => Err(self.unexpected("a name")),
        }
    }

    fn keyword(&self) -> Option<&str> {
        match &self.peek().tok {
            Tok::Name(n) => Some(n.as_str()),
            _ => None,
        }
    }

    /// Runs `f` one nesting level deeper, failing once the budget is spent.
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, SyntaxError>,
    ) -> Result<T, SyntaxError> {
        if self.depth >= self.max_nesting {
            return Err(SyntaxError::new(
                format!(
                    "the document nests deeper than {} levels; split the pipeline into several queries",
                    self.max_nesting
                ),
                self.pos(),
            ));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn document(&mut self) -> Result<ExecutableDocument, SyntaxError> {
        let mut operations: Option<DocumentOperations> = None;
        let mut fragments = HashMap::new();
        if self.peek().tok == Tok::Eof {
            return Err(self.unexpected("an operation"));
        }
        while self.peek().tok != Tok::Eof {
            if self.keyword() == Some("fragment") {
                let (name, fragment) = self.fragment_definition()?;
                match fragments.entry(name.node) {
                    Entry::Occupied(first) => {
                        return Err(SyntaxError::new(
                            format!("fragment \"{}\" is defined twice", first.key()),
                            name.pos,
                        ));
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(fragment);
                    }
                }
            } else {
                let (name, operation) = self.operation_definition()?;
                add_operation(&mut operations, name, operation)?;
            }
        }
        let operations = operations.ok_or_else(|| {
            SyntaxError::new("the document has no operation", Pos { line: 1, column: 1 })
        })?;
        Ok(ExecutableDocument {
            operations,
            fragments,
        })
    }

    fn operation_definition(
        &mut self,
    ) -> Result<(Option<Positioned<Name>>, Positioned<OperationDefinition>), SyntaxError> {
        let pos = self.pos();
        if self.is('{') {
            let selection_set = self.selection_set()?;
            let op = OperationDefinition {
                ty: OperationType::Query,
                variable_definitions: Vec::new(),
                directives: Vec::new(),
                selection_set,
            };
            return Ok((None, Positioned::new(op, pos)));
        }
        let ty = match self.keyword() {
            Some("query") => OperationType::Query,
            Some("mutation") => OperationType::Mutation,
            Some("subscription") => OperationType::Subscription,
            _ => return Err(self.unexpected("\"query\", \"mutation\", \"fragment\" or \"{\"")),
        };
        self.advance();
        let name = match self.peek().tok {
            Tok::Name(_) => Some(self.name()?),
            _ => None,
        };
        let variable_definitions = if self.is('(') {
            self.variable_definitions()?
        } else {
            Vec::new()
        };
        let directives = self.directives()?;
        let selection_set = self.selection_set()?;
        let op = OperationDefinition {
            ty,
            variable_definitions,
            directives,
            selection_set,
        };
        Ok((name, Positioned::new(op, pos)))
    }

    fn fragment_definition(
        &mut self,
    ) -> Result<(Positioned<Name>, Positioned<FragmentDefinition>), SyntaxError> {
        let pos = self.advance().pos;
        let name = self.fragment_name()?;
        let type_condition = self.type_condition()?;
        let directives = self.directives()?;
        let selection_set = self.selection_set()?;
        let fragment = FragmentDefinition {
            type_condition,
            directives,
            selection_set,
        };
        Ok((name, Positioned::new(fragment, pos)))
    }

    fn fragment_name(&mut self) -> Result<Positioned<Name>, SyntaxError> {
        if self.keyword() == Some("on") {
            return Err(self.unexpected("a fragment name (\"on\" is reserved)"));
        }
        self.name()
    }

    fn type_condition(&mut self) -> Result<Positioned<TypeCondition>, SyntaxError> {
        let pos = self.pos();
        if self.keyword() != Some("on") {
            return Err(self.unexpected("\"on\""));
        }
        self.advance();
        let on = self.name()?;
        Ok(Positioned::new(TypeCondition { on }, pos))
    }

    fn variable_definitions(&mut self) -> Result<Vec<Positioned<VariableDefinition>>, SyntaxError> {
        self.expect('(')?;
        let mut definitions = Vec::new();
        while !self.eat(')') {
            let pos = self.expect('$')?;
            let name = self.name()?;
            self.expect(':')?;
            let var_type = self.type_ref()?;
            let default_value = if self.eat('=') {
                let value = self.value()?;
                let const_value = value.node.into_const().ok_or_else(|| {
                    SyntaxError::new("a default value cannot use variables", value.pos)
                })?;
                Some(Positioned::new(const_value, value.pos))
            } else {
                None
            };
            let directives = self.directives()?;
            definitions.push(Positioned::new(
                VariableDefinition {
                    name,
                    var_type,
                    directives,
                    default_value,
                },
                pos,
            ));
        }
        if definitions.is_empty() {
            return Err(SyntaxError::new(
                "an empty variable list; remove the \"()\"",
                self.pos(),
            ));
        }
        Ok(definitions)
    }

    fn type_ref(&mut self) -> Result<Positioned<Type>, SyntaxError> {
        let pos = self.pos();
        let base = if self.eat('[') {
            let inner = self.nested(|p| p.type_ref())?;
            self.expect(']')?;
            BaseType::List(Box::new(inner.node))
        } else {
            BaseType::Named(self.name()?.node)
        };
        let nullable = !self.eat('!');
        Ok(Positioned::new(Type { base, nullable }, pos))
    }

    fn directives(&mut self) -> Result<Vec<Positioned<Directive>>, SyntaxError> {
        let mut directives = Vec::new();
        while self.is('@') {
            let pos = self.advance().pos;
            let name = self.name()?;
            let arguments = self.arguments()?;
            directives.push(Positioned::new(Directive { name, arguments }, pos));
        }
        Ok(directives)
    }

    fn arguments(&mut self) -> Result<Arguments, SyntaxError> {
        let mut arguments = Vec::new();
        if !self.eat('(') {
            return Ok(arguments);
        }
        while !self.eat(')') {
            let name = self.name()?;
            self.expect(':')?;
            let value = self.value()?;
            arguments.push((name, value));
        }
        if arguments.is_empty() {
            return Err(SyntaxError::new(
                "an empty argument list; remove the \"()\"",
                self.pos(),
            ));
        }
        Ok(arguments)
    }

    fn selection_set(&mut self) -> Result<Positioned<SelectionSet>, SyntaxError> {
        self.nested(|p| {
            let pos = p.expect('{')?;
            let mut items = Vec::new();
            while !p.eat('}') {
                items.push(p.selection()?);
            }
            if items.is_empty() {
                return Err(SyntaxError::new(
                    "an empty selection set; select at least one field",
                    pos,
                ));
            }
            Ok(Positioned::new(SelectionSet { items }, pos))
        })
    }

    fn selection(&mut self) -> Result<Positioned<Selection>, SyntaxError> {
        let pos = self.pos();
        if self.peek().tok == Tok::Spread {
            self.advance();
            let is_spread = matches!(self.keyword(), Some(k) if k != "on");
            let selection = if is_spread {
                let fragment_name = self.fragment_name()?;
                let directives = self.directives()?;
                let spread = FragmentSpread {
                    fragment_name,
                    directives,
                };
                Selection::FragmentSpread(Positioned::new(spread, pos))
            } else {
                let type_condition = if self.keyword() == Some("on") {
                    Some(self.type_condition()?)
                } else {
                    None
                };
                let directives = self.directives()?;
                let selection_set = self.selection_set()?;
                let fragment = InlineFragment {
                    type_condition,
                    directives,
                    selection_set,
                };
                Selection::InlineFragment(Positioned::new(fragment, pos))
            };
            return Ok(Positioned::new(selection, pos));
        }
        let field = self.field()?;
        Ok(Positioned::new(Selection::Field(field), pos))
    }

    fn field(&mut self) -> Result<Positioned<Field>, SyntaxError> {
        let pos = self.pos();
        let first = self.name()?;
        let (alias, name) = if self.eat(':') {
            (Some(first), self.name()?)
        } else {
            (None, first)
        };
        let arguments = self.arguments()?;
        let directives = self.directives()?;
        let selection_set = if self.is('{') {
            self.selection_set()?
        } else {
            Positioned::new(SelectionSet::default(), Pos::default())
        };
        let field = Field {
            alias,
            name,
            arguments,
            directives,
            selection_set,
        };
        Ok(Positioned::new(field, pos))
    }

    fn value(&mut self) -> Result<Positioned<Value>, SyntaxError> {
        let token = self.peek().clone();
        let pos = token.pos;
        let value = match token.tok {
            Tok::Punct('$') => {
                self.advance();
                Value::Variable(self.name()?.node)
            }
            Tok::Punct('[') => return self.nested(|p| p.list_value()),
            Tok::Punct('{') => return self.nested(|p| p.object_value()),
            Tok::Int(text) | Tok::Float(text) => {
                self.advance();
                let number: Number = text
                    .parse()
                    .map_err(|_| SyntaxError::new(format!("number {text} is out of range"), pos))?;
                Value::Number(number)
            }
            Tok::Str(s) => {
                self.advance();
                Value::String(s)
            }
            Tok::Name(n) => {
                self.advance();
                match n.as_str() {
                    "true" => Value::Boolean(true),
                    "false" => Value::Boolean(false),
                    "null" => Value::Null,
                    _ => Value::Enum(Name::new(n)),
                }
            }
            _ => return Err(self.unexpected("a value")),
        };
        Ok(Positioned::new(value, pos))
    }

    fn list_value(&mut self) -> Result<Positioned<Value>, SyntaxError> {
        let pos = self.expect('[')?;
        let mut items = Vec::new();
        while !self.eat(']') {
            items.push(self.value()?.node);
        }
        Ok(Positioned::new(Value::List(items), pos))
    }

    fn object_value(&mut self) -> Result<Positioned<Value>, SyntaxError> {
        let pos = self.expect('{')?;
        let mut fields = IndexMap::new();
        while !self.eat('}') {
            let name = self.name()?;
            self.expect(':')?;
            let value = self.value()?;
            if fields.contains_key(&name.node) {
                return Err(SyntaxError::new(
                    format!("field \"{}\" appears twice in an object value", name.node),
                    name.pos,
                ));
            }
            fields.insert(name.node, value.node);
        }
        Ok(Positioned::new(Value::Object(fields), pos))
    }
}

fn add_operation(
    operations: &mut Option<DocumentOperations>,
    name: Option<Positioned<Name>>,
    operation: Positioned<OperationDefinition>,
) -> Result<(), SyntaxError> {
    let pos = operation.pos;
    let mixed = || {
        SyntaxError::new(
            "an anonymous operation must be the only operation in the document",
            pos,
        )
    };
    match (operations.as_mut(), name) {
        (None, None) => *operations = Some(DocumentOperations::Single(operation)),
        (None, Some(name)) => {
            let mut named = HashMap::new();
            named.insert(name.node, operation);
            *operations = Some(DocumentOperations::Multiple(named));
        }
        (Some(DocumentOperations::Single(_)), _) | (Some(_), None) => return Err(mixed()),
        (Some(DocumentOperations::Multiple(named)), Some(name)) => match named.entry(name.node) {
            Entry::Occupied(first) => {
                return Err(SyntaxError::new(
                    format!("operation \"{}\" is defined twice", first.key()),
                    name.pos,
                ));
            }
            Entry::Vacant(slot) => {
                slot.insert(operation);
            }
        },
    }
    Ok(())
}
