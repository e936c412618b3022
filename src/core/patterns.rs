//! Path patterns with `.dockerignore` semantics, as BuildKit's file transfer applies them.
//!
//! A pattern is matched against a slash-separated relative path, segment by segment: `*` matches
//! any run of characters within a segment, `?` one character, `[a-z]`/`[^a-z]` a class, `\` escapes
//! the next character, and a `**` segment any number of segments. A pattern that matches a
//! directory matches everything below it. Exclude patterns are read in order and the last one that
//! matches wins; a leading `!` makes a pattern re-include what earlier ones excluded.

//!
//! This file is also compiled into the exec shim (which applies patterns inside the daemon when it
//! cannot), so it uses nothing but the standard library.

/// A pattern that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid path pattern {:?}: {}",
            self.pattern, self.reason
        )
    }
}

impl std::error::Error for PatternError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    Star,
    One,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    /// `**`: any number of segments.
    Any,
    Glob(Vec<Tok>),
}

/// One compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// Re-includes (`!pattern`) rather than matches.
    pub negated: bool,
    segs: Vec<Seg>,
}

fn clean(path: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if out.last().is_some_and(|p| *p != "..") => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out
}

fn parse_segment(seg: &str, pattern: &str) -> Result<Vec<Tok>, PatternError> {
    let bad = |reason: &str| PatternError {
        pattern: pattern.to_owned(),
        reason: reason.to_owned(),
    };
    let mut toks = Vec::new();
    let mut chars = seg.chars().peekable();
    while let Some(c) = chars.next() {
        toks.push(match c {
            '*' => {
                if toks.last() == Some(&Tok::Star) {
                    continue;
                }
                Tok::Star
            }
            '?' => Tok::One,
            '\\' => Tok::Lit(chars.next().ok_or_else(|| bad("it ends with \\"))?),
            '[' => {
                let negated = matches!(chars.peek(), Some('^' | '!'));
                if negated {
                    chars.next();
                }
                let mut ranges = Vec::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    let lo = match c {
                        ']' if !ranges.is_empty() => {
                            closed = true;
                            break;
                        }
                        '\\' => chars.next().ok_or_else(|| bad("it ends with \\"))?,
                        c => c,
                    };
                    let hi = if chars.peek() == Some(&'-') {
                        chars.next();
                        match chars.next() {
                            Some('\\') => chars.next().ok_or_else(|| bad("it ends with \\"))?,
                            Some(']') | None => return Err(bad("a range in [...] has no end")),
                            Some(c) => c,
                        }
                    } else {
                        lo
                    };
                    if hi < lo {
                        return Err(bad("a range in [...] is reversed"));
                    }
                    ranges.push((lo, hi));
                }
                if !closed {
                    return Err(bad("a [ is not closed"));
                }
                Tok::Class { negated, ranges }
            }
            c => Tok::Lit(c),
        });
    }
    Ok(toks)
}

fn glob(toks: &[Tok], name: &[char]) -> bool {
    // Backtracking over the last star: linear in practice, never recursive.
    let (mut t, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match toks.get(t) {
            Some(Tok::Star) => {
                star = Some((t, n));
                t += 1;
                continue;
            }
            Some(Tok::Lit(c)) => *c == name[n],
            Some(Tok::One) => true,
            Some(Tok::Class { negated, ranges }) => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&name[n])) != *negated
            }
            None => false,
        };
        if step {
            t += 1;
            n += 1;
        } else if let Some((st, sn)) = star {
            t = st + 1;
            n = sn + 1;
            star = Some((st, sn + 1));
        } else {
            return false;
        }
    }
    toks[t.min(toks.len())..].iter().all(|t| *t == Tok::Star)
}

impl Pattern {
    /// Compiles one pattern (a leading `!` negates it).
    pub fn parse(pattern: &str) -> Result<Pattern, PatternError> {
        let (negated, body) = match pattern.trim().strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, pattern.trim()),
        };
        let segs = clean(body)
            .into_iter()
            .map(|s| match s {
                "**" => Ok(Seg::Any),
                s => parse_segment(s, pattern).map(Seg::Glob),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pattern { negated, segs })
    }

    /// Adds the positions reachable by letting `**` segments match nothing.
    fn close(&self, set: &mut [bool]) {
        for i in 0..self.segs.len() {
            if set[i] && self.segs[i] == Seg::Any {
                set[i + 1] = true;
            }
        }
    }

    /// `reach[i]`: the pattern's first `i` segments can match all of `path`.
    fn reach(&self, path: &[Vec<char>]) -> Vec<bool> {
        let mut reach = vec![false; self.segs.len() + 1];
        reach[0] = true;
        self.close(&mut reach);
        for name in path {
            let mut next = vec![false; self.segs.len() + 1];
            for (i, seg) in self.segs.iter().enumerate() {
                if !reach[i] {
                    continue;
                }
                match seg {
                    Seg::Any => next[i] = true,
                    Seg::Glob(toks) => {
                        if glob(toks, name) {
                            next[i + 1] = true;
                        }
                    }
                }
            }
            self.close(&mut next);
            reach = next;
        }
        reach
    }

    /// True when the pattern matches `path` itself (not counting its parents).
    fn matches_exactly(&self, path: &[Vec<char>]) -> bool {
        !self.segs.is_empty() && self.reach(path)[self.segs.len()]
    }

    /// True when the pattern matches `path` or one of its parent directories.
    pub fn matches(&self, path: &[Vec<char>]) -> bool {
        (1..=path.len()).any(|n| self.matches_exactly(&path[..n]))
    }

    /// True when something below directory `dir` could match.
    pub fn may_match_below(&self, dir: &[Vec<char>]) -> bool {
        self.reach(dir)[..self.segs.len()].iter().any(|r| *r)
    }
}

/// Splits a relative path into segments of characters.
pub fn split(path: &str) -> Vec<Vec<char>> {
    clean(path)
        .into_iter()
        .map(|s| s.chars().collect())
        .collect()
}

/// Which paths of a tree are selected by include and exclude patterns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

/// What a selection says about a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirVerdict {
    /// The directory and everything below are selected (subject to excludes below it).
    Selected,
    /// The directory itself is not selected, but something below may be: descend, and send it
    /// only if something below it is sent.
    Descend,
    /// Nothing at or below it is selected.
    Skip,
}

impl Selection {
    /// Compiles `include` and `exclude` (empty patterns are ignored).
    pub fn new(include: &[String], exclude: &[String]) -> Result<Selection, PatternError> {
        let compile = |list: &[String]| {
            list.iter()
                .filter(|p| !p.trim().is_empty())
                .map(|p| Pattern::parse(p))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Selection {
            include: compile(include)?,
            exclude: compile(exclude)?,
        })
    }

    fn included(&self, path: &[Vec<char>]) -> bool {
        self.include.is_empty() || self.include.iter().any(|p| p.matches(path))
    }

    fn excluded(&self, path: &[Vec<char>]) -> bool {
        let mut excluded = false;
        for p in &self.exclude {
            if p.negated != excluded {
                continue;
            }
            if p.matches(path) {
                excluded = !p.negated;
            }
        }
        excluded
    }

    /// Whether a regular file, symlink or other non-directory at `path` is sent.
    pub fn selects_file(&self, path: &[Vec<char>]) -> bool {
        self.included(path) && !self.excluded(path)
    }

    /// What to do with the directory at `path`.
    pub fn directory(&self, path: &[Vec<char>]) -> DirVerdict {
        let included = self.included(path);
        if !included && !self.include.iter().any(|p| p.may_match_below(path)) {
            return DirVerdict::Skip;
        }
        if self.excluded(path) {
            let reincluded_below = self
                .exclude
                .iter()
                .any(|p| p.negated && (p.may_match_below(path) || p.matches(path)));
            return if reincluded_below {
                DirVerdict::Descend
            } else {
                DirVerdict::Skip
            };
        }
        if included {
            DirVerdict::Selected
        } else {
            DirVerdict::Descend
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(include: &[&str], exclude: &[&str]) -> Selection {
        let owned = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Selection::new(&owned(include), &owned(exclude)).unwrap_or_default()
    }

    fn m(pattern: &str, path: &str) -> bool {
        Pattern::parse(pattern)
            .map(|p| p.matches(&split(path)))
            .unwrap_or(false)
    }

    #[test]
    fn globs_within_a_segment() {
        assert!(m("*.txt", "a.txt"));
        assert!(!m("*.txt", "dir/a.txt"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "a/c"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[^a-c]x", "bx"));
        assert!(m("[!a-c]x", "dx"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
    }

    #[test]
    fn double_star_spans_directories() {
        assert!(m("**/*.go", "main.go"));
        assert!(m("**/*.go", "a/b/c/main.go"));
        assert!(m("src/**/test", "src/test"));
        assert!(m("src/**/test", "src/a/b/test"));
        assert!(!m("src/**/test", "lib/a/test"));
        assert!(m("src/**", "src/a/b"));
    }

    #[test]
    fn a_matching_directory_matches_its_contents() {
        assert!(m("node_modules", "node_modules/x/y.js"));
        assert!(m("/build/", "build/out.bin"));
        assert!(m("./a/../b", "b/c"));
        assert!(!m("build", "src/build.rs"));
    }

    #[test]
    fn last_matching_exclude_wins() {
        let s = sel(&[], &["*.md", "!README.md"]);
        assert!(!s.selects_file(&split("CHANGES.md")));
        assert!(s.selects_file(&split("README.md")));
        let s = sel(&[], &["docs", "!docs/keep.txt"]);
        assert_eq!(s.directory(&split("docs")), DirVerdict::Descend);
        assert!(s.selects_file(&split("docs/keep.txt")));
        assert!(!s.selects_file(&split("docs/other.txt")));
        let s = sel(&[], &["target"]);
        assert_eq!(s.directory(&split("target")), DirVerdict::Skip);
        assert_eq!(s.directory(&split("src")), DirVerdict::Selected);
    }

    #[test]
    fn includes_select_and_open_the_way() {
        let s = sel(&["src/**/*.rs", "Cargo.toml"], &[]);
        assert!(s.selects_file(&split("Cargo.toml")));
        assert!(s.selects_file(&split("src/a/lib.rs")));
        assert!(!s.selects_file(&split("README.md")));
        assert_eq!(s.directory(&split("src")), DirVerdict::Descend);
        assert_eq!(s.directory(&split("src/a")), DirVerdict::Descend);
        assert_eq!(s.directory(&split("docs")), DirVerdict::Skip);
        let s = sel(&["src"], &["src/gen"]);
        assert_eq!(s.directory(&split("src")), DirVerdict::Selected);
        assert_eq!(s.directory(&split("src/gen")), DirVerdict::Skip);
        assert!(s.selects_file(&split("src/x/y")));
    }

    #[test]
    fn bad_patterns_are_errors() {
        for bad in ["[", "a[b", "x\\", "[z-a]", "[a-]"] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?}");
        }
        let e = Selection::new(&["ok".into(), "[".into()], &[]).err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("invalid path pattern \"[\": a [ is not closed".into())
        );
    }
}
