//! Splits a GraphQL source text into tokens with 1-based line/column positions (columns count
//! characters). Whitespace, commas, comments and the byte-order mark are insignificant.

use async_graphql::Pos;

use super::SyntaxError;

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// One of `! $ & ( ) : = @ [ ] { | }`.
    Punct(char),
    /// `...`
    Spread,
    Name(String),
    /// Integer literal text, as written.
    Int(String),
    /// Float literal text, as written.
    Float(String),
    /// A string or block string, unescaped.
    Str(String),
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Punct(c) => format!("\"{c}\""),
            Tok::Spread => "\"...\"".to_owned(),
            Tok::Name(n) => format!("name \"{n}\""),
            Tok::Int(n) | Tok::Float(n) => format!("number {n}"),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Eof => "the end of the document".to_owned(),
        }
    }
}

/// A token and where it starts.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

/// Tokenizes `source` completely (the result ends with [`Tok::Eof`]).
pub(super) fn tokenize(source: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut lexer = Lexer {
        chars: source.chars().collect(),
        at: 0,
        line: 1,
        column: 1,
    };
    let mut tokens = Vec::new();
    loop {
        lexer.skip_ignored();
        let pos = lexer.pos();
        let tok = lexer.next_token()?;
        let end = tok == Tok::Eof;
        tokens.push(Token { tok, pos });
        if end {
            return Ok(tokens);
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: usize,
    column: usize,
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_continue(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

impl Lexer {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.at += 1;
        match c {
            '\n' => self.newline(),
            // "\r\n" is one line terminator: count it at the "\n".
            '\r' if self.peek(0) != Some('\n') => self.newline(),
            _ => self.column += 1,
        }
        Some(c)
    }

    fn newline(&mut self) {
        self.line += 1;
        self.column = 1;
    }

    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError::new(message, self.pos())
    }

    fn skip_ignored(&mut self) {
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\n' | '\r' | ',' | '\u{feff}' => {
                    self.bump();
                }
                '#' => {
                    while let Some(c) = self.peek(0) {
                        if c == '\n' || c == '\r' {
                            break;
                        }
                        self.bump();
                    }
                }
                _ => return,
            }
        }
    }

    fn next_token(&mut self) -> Result<Tok, SyntaxError> {
        let Some(c) = self.peek(0) else {
            return Ok(Tok::Eof);
        };
        match c {
            '!' | '$' | '&' | '(' | ')' | ':' | '=' | '@' | '[' | ']' | '{' | '|' | '}' => {
                self.bump();
                Ok(Tok::Punct(c))
            }
            '.' => {
                if self.peek(1) == Some('.') && self.peek(2) == Some('.') {
                    self.bump();
                    self.bump();
                    self.bump();
                    Ok(Tok::Spread)
                } else {
                    Err(self.error("unexpected \".\" (did you mean \"...\"?)"))
                }
            }
            '"' => {
                if self.peek(1) == Some('"') && self.peek(2) == Some('"') {
                    self.block_string()
                } else {
                    self.string()
                }
            }
            '-' | '0'..='9' => self.number(),
            c if is_name_start(c) => {
                let mut name = String::new();
                while let Some(c) = self.peek(0).filter(|c| is_name_continue(*c)) {
                    name.push(c);
                    self.bump();
                }
                Ok(Tok::Name(name))
            }
            other => Err(self.error(format!("unexpected character {other:?}"))),
        }
    }

    fn digits(&mut self, text: &mut String) -> usize {
        let mut n = 0;
        while let Some(c) = self.peek(0).filter(char::is_ascii_digit) {
            text.push(c);
            self.bump();
            n += 1;
        }
        n
    }

    fn number(&mut self) -> Result<Tok, SyntaxError> {
        let start = self.pos();
        let mut text = String::new();
        if self.peek(0) == Some('-') {
            text.push('-');
            self.bump();
        }
        let leading_zero = self.peek(0) == Some('0');
        let int_digits = self.digits(&mut text);
        if int_digits == 0 {
            return Err(SyntaxError::new("a number needs digits after \"-\"", start));
        }
        if leading_zero && int_digits > 1 {
            return Err(SyntaxError::new(
                format!("invalid number {text}: leading zeros are not allowed"),
                start,
            ));
        }
        let mut float = false;
        if self.peek(0) == Some('.') {
            float = true;
            text.push('.');
            self.bump();
            if self.digits(&mut text) == 0 {
                return Err(SyntaxError::new(
                    format!("invalid number {text}: digits must follow \".\""),
                    start,
                ));
            }
        }
        if let Some(e @ ('e' | 'E')) = self.peek(0) {
            float = true;
            text.push(e);
            self.bump();
            if let Some(sign @ ('+' | '-')) = self.peek(0) {
                text.push(sign);
                self.bump();
            }
            if self.digits(&mut text) == 0 {
                return Err(SyntaxError::new(
                    format!("invalid number {text}: the exponent needs digits"),
                    start,
                ));
            }
        }
        if let Some(c) = self.peek(0).filter(|c| *c == '.' || is_name_start(*c)) {
            return Err(SyntaxError::new(format!("invalid number {text}{c}"), start));
        }
        Ok(if float {
            Tok::Float(text)
        } else {
            Tok::Int(text)
        })
    }

    fn string(&mut self) -> Result<Tok, SyntaxError> {
        let start = self.pos();
        self.bump();
        let mut value = String::new();
        loop {
            match self.peek(0) {
                None | Some('\n' | '\r') => {
                    return Err(SyntaxError::new("unterminated string", start));
                }
                Some('"') => {
                    self.bump();
                    return Ok(Tok::Str(value));
                }
                Some('\\') => {
                    self.bump();
                    value.push(self.escape()?);
                }
                Some(c) => {
                    value.push(c);
                    self.bump();
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char, SyntaxError> {
        let at = self.pos();
        let c = self
            .bump()
            .ok_or_else(|| SyntaxError::new("unterminated string", at))?;
        Ok(match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => return self.unicode_escape(at),
            other => {
                return Err(SyntaxError::new(
                    format!("invalid escape sequence \\{other}"),
                    at,
                ));
            }
        })
    }

    fn hex_digits(&mut self, count: Option<usize>, at: Pos) -> Result<u32, SyntaxError> {
        let mut value: u32 = 0;
        let mut n = 0;
        while count.is_none_or(|c| n < c) {
            let Some(d) = self.peek(0).and_then(|c| c.to_digit(16)) else {
                break;
            };
            value = value
                .checked_mul(16)
                .and_then(|v| v.checked_add(d))
                .ok_or_else(|| SyntaxError::new("unicode escape out of range", at))?;
            self.bump();
            n += 1;
        }
        if n == 0 || count.is_some_and(|c| n != c) {
            return Err(SyntaxError::new("invalid unicode escape sequence", at));
        }
        Ok(value)
    }

    fn unicode_escape(&mut self, at: Pos) -> Result<char, SyntaxError> {
        let code = if self.peek(0) == Some('{') {
            self.bump();
            let code = self.hex_digits(None, at)?;
            if self.bump() != Some('}') {
                return Err(SyntaxError::new("unterminated unicode escape \\u{", at));
            }
            code
        } else {
            let high = self.hex_digits(Some(4), at)?;
            if (0xD800..0xDC00).contains(&high)
                && self.peek(0) == Some('\\')
                && self.peek(1) == Some('u')
            {
                self.bump();
                self.bump();
                let low = self.hex_digits(Some(4), at)?;
                if !(0xDC00..0xE000).contains(&low) {
                    return Err(SyntaxError::new("invalid surrogate pair", at));
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            } else {
                high
            }
        };
        char::from_u32(code)
            .ok_or_else(|| SyntaxError::new(format!("invalid unicode scalar value {code:X}"), at))
    }

    fn block_string(&mut self) -> Result<Tok, SyntaxError> {
        let start = self.pos();
        for _ in 0..3 {
            self.bump();
        }
        let mut raw = String::new();
        loop {
            match self.peek(0) {
                None => return Err(SyntaxError::new("unterminated block string", start)),
                Some('"') if self.peek(1) == Some('"') && self.peek(2) == Some('"') => {
                    for _ in 0..3 {
                        self.bump();
                    }
                    return Ok(Tok::Str(block_string_value(&raw)));
                }
                Some('\\')
                    if self.peek(1) == Some('"')
                        && self.peek(2) == Some('"')
                        && self.peek(3) == Some('"') =>
                {
                    for _ in 0..4 {
                        self.bump();
                    }
                    raw.push_str("\"\"\"");
                }
                Some(c) => {
                    raw.push(c);
                    self.bump();
                }
            }
        }
    }
}

/// The value of a block string: common indentation (ignoring the first line) removed, blank
/// leading and trailing lines dropped, line terminators normalized to `\n`.
fn block_string_value(raw: &str) -> String {
    let normalized = raw.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = normalized.split('\n').collect();
    let blank = |line: &str| line.chars().all(|c| c == ' ' || c == '\t');
    let indent = lines
        .iter()
        .skip(1)
        .filter(|line| !blank(line))
        .map(|line| line.len() - line.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let mut kept: Vec<&str> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                line
            } else {
                line.get(indent..).unwrap_or("")
            }
        })
        .collect();
    while kept.first().is_some_and(|l| blank(l)) {
        kept.remove(0);
    }
    while kept.last().is_some_and(|l| blank(l)) {
        kept.pop();
    }
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(source: &str) -> Vec<Tok> {
        match tokenize(source) {
            Ok(tokens) => tokens.into_iter().map(|t| t.tok).collect(),
            Err(e) => panic!("{source:?}: {e}"),
        }
    }

    #[test]
    fn punctuation_names_numbers() {
        assert_eq!(
            toks("{ a(x: -1.5e3, y: 0) ...F }"),
            vec![
                Tok::Punct('{'),
                Tok::Name("a".into()),
                Tok::Punct('('),
                Tok::Name("x".into()),
                Tok::Punct(':'),
                Tok::Float("-1.5e3".into()),
                Tok::Name("y".into()),
                Tok::Punct(':'),
                Tok::Int("0".into()),
                Tok::Punct(')'),
                Tok::Spread,
                Tok::Name("F".into()),
                Tok::Punct('}'),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn strings_unescape() {
        assert_eq!(
            toks(r#""a\"b\\\n\u00e9\u{1F600}\ud83d\ude00""#)[0],
            Tok::Str("a\"b\\\n\u{e9}\u{1F600}\u{1F600}".into())
        );
        assert_eq!(
            toks("\"\"\"\n    hello\n      world\n  \"\"\"")[0],
            Tok::Str("hello\n  world".into())
        );
        assert_eq!(toks(r#""""a \""" b""""#)[0], Tok::Str("a \"\"\" b".into()));
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let tokens = tokenize("# comment\r\n  é, x").unwrap_or_default();
        assert!(tokens.is_empty(), "é is not a name character");
        let tokens = tokenize("# c\r\n  ab\n\tcd").unwrap_or_default();
        let pos: Vec<(usize, usize)> = tokens.iter().map(|t| (t.pos.line, t.pos.column)).collect();
        assert_eq!(pos, vec![(2, 3), (3, 2), (3, 4)]);
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            "\"open",
            "01",
            "1.",
            "1e",
            "-",
            "1a",
            ". .",
            "\"\\q\"",
            "\"\\u12\"",
            "?",
        ] {
            assert!(tokenize(bad).is_err(), "{bad:?} should not tokenize");
        }
    }
}
