//! A pre-tokenizer's split pattern, matched by our own code: the regex subset that tokenizer
//! files use (GPT-2's, cl100k's, o200k's, Llama 3's, Qwen's, DeepSeek's, Mistral's patterns), with
//! the meaning the reference encoders' engines give it (`fancy-regex`, `regex`, Oniguruma):
//! leftmost match, alternatives tried in order, greedy repetition with backtracking.
//!
//! ```text
//! (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//! ```
//!
//! What it reads: literals, `.`, classes `[…]` / `[^…]` with ranges, `\p{…}` / `\P{…}` (general
//! categories: `L`, `Lu`, `Letter`, …), `\s` `\S` `\d` `\D`, escapes (`\r`, `\x{…}`, `\-`, …),
//! groups `(…)` `(?:…)` `(?i:…)` (ASCII letters only), lookahead `(?=…)` `(?!…)`, and `?` `*` `+`
//! `{m,n}` (greedy). Anything else — anchors, `\w`, scripts, lazy repetition, lookbehind,
//! unbounded repetition of a group or one with a repetition inside (exponential backtracking),
//! a repeated group that can match nothing, a match deeper than 512 nodes in a row, a pattern
//! that can match nothing, and what the engines read otherwise (`\<`, `a{ 2}`, `[]-a]`,
//! `[!--]`) — is [`Unsupported`], and the caller keeps the `tokenizers` crate's engine for that
//! file.
//!
//! Work is bounded: a search gives up ([`TooSlow`]; the pre-tokenizer then asks the crate's
//! engine) after [`Pattern::steps_per_byte`] steps per byte of text: 256 plus 4 per node of the
//! pattern (a list of alternatives is tried one by one), at most 1,024; patterns of more than
//! 1,024 nodes stay the crate's. The shipped patterns need fewer than 32.

use std::fmt;

use super::unicode::{self, Categories};

/// The most steps a search may take per byte of text: this, plus [`STEPS_PER_NODE`] for each node
/// of the pattern, at most [`STEPS_PER_BYTE_MAX`], plus [`STEPS_MIN`] in all.
const STEPS_PER_BYTE: u64 = 256;
const STEPS_PER_NODE: u64 = 4;
const STEPS_PER_BYTE_MAX: u64 = 1024;
const STEPS_MIN: u64 = 100_000;
/// Larger patterns (long word lists) stay the crate's: its automata take them in linear time.
const MAX_NODES: u64 = 1024;
/// Longest pattern, deepest nesting and largest bounded repetition of a group we take on.
const MAX_PATTERN: usize = 20_000;
const MAX_DEPTH: usize = 32;
const MAX_GROUP_REPEAT: u32 = 64;
/// The most nodes one match may pass in a row (the matcher's recursion depth, which must stay
/// far inside a wasm stack).
const MAX_CHAIN: usize = 512;
const UNBOUNDED: u32 = u32::MAX;

/// A pattern this matcher does not read (the reason, for tests and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pattern not supported: {}", self.0)
    }
}

/// A search that ran out of steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooSlow;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    root: Node,
    /// The one character node every match starts with, if there is one (`\p{N}` of
    /// `\p{N}{1,3}`): the search skips positions it does not take without trying the rest.
    first: Option<Node>,
    /// The step budget per byte of text.
    steps_per_byte: u64,
}

#[derive(Debug, Clone)]
enum Node {
    /// One character.
    Char(char),
    /// One character of a set.
    Set(Set),
    /// Each in turn.
    Concat(Vec<Node>),
    /// The first alternative that lets the rest match.
    Alt(Vec<Node>),
    /// `node` `min..=max` times, as many as possible first.
    Repeat { node: Box<Node>, min: u32, max: u32 },
    /// Whether `node` matches here (consuming nothing): `(?=…)`, or `(?!…)` when `negated`.
    Ahead { node: Box<Node>, negated: bool },
}

/// A character class: a character is in it if any item holds (the reverse when `negated`).
#[derive(Debug, Clone, Default)]
struct Set {
    negated: bool,
    ranges: Vec<(char, char)>,
    /// `\p{…}` items: the union of their categories.
    categories: Categories,
    /// `\P{…}` items: each one's categories (a character outside any of them is in).
    not_categories: Vec<Categories>,
    /// `\s` and `\S`.
    space: bool,
    not_space: bool,
}

impl Set {
    fn contains(&self, c: char) -> bool {
        let hit = self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi)
            || (self.space && unicode::is_white_space(c))
            || (self.not_space && !unicode::is_white_space(c))
            || ((self.categories != 0 || !self.not_categories.is_empty()) && {
                let bit = 1 << unicode::category(c);
                self.categories & bit != 0 || self.not_categories.iter().any(|&n| n & bit == 0)
            });
        hit != self.negated
    }

    fn of_categories(categories: Categories, negated: bool) -> Set {
        Set {
            negated,
            categories,
            ..Set::default()
        }
    }
}

impl Node {
    /// The one character node every match of `self` starts with, if any.
    fn first(&self) -> Option<&Node> {
        match self {
            Node::Char(_) | Node::Set(_) => Some(self),
            Node::Concat(items) => items.first().and_then(Node::first),
            Node::Repeat { node, min, .. } if *min > 0 => node.first(),
            _ => None,
        }
    }

    /// Whether a repetition is part of `self`.
    fn has_repeat(&self) -> bool {
        match self {
            Node::Char(_) | Node::Set(_) => false,
            Node::Concat(items) | Node::Alt(items) => items.iter().any(Node::has_repeat),
            Node::Repeat { .. } => true,
            Node::Ahead { node, .. } => node.has_repeat(),
        }
    }

    /// The most nodes a match passes through one after another, each a frame deeper in the
    /// matcher's recursion (a repeated character is one: it is matched in a loop).
    fn chain(&self) -> usize {
        match self {
            Node::Char(_) | Node::Set(_) => 1,
            Node::Concat(items) => items.iter().fold(0, |sum, n| sum.saturating_add(n.chain())),
            Node::Alt(alts) => alts.iter().map(Node::chain).max().unwrap_or(0),
            Node::Repeat { node, .. } if matches!(**node, Node::Char(_) | Node::Set(_)) => 1,
            Node::Repeat { node, max, .. } => node.chain().saturating_mul(*max as usize),
            Node::Ahead { node, .. } => node.chain().saturating_add(1),
        }
    }

    /// How many nodes the pattern has.
    fn size(&self) -> u64 {
        1 + match self {
            Node::Char(_) | Node::Set(_) => 0,
            Node::Concat(items) | Node::Alt(items) => items.iter().map(Node::size).sum(),
            Node::Repeat { node, .. } | Node::Ahead { node, .. } => node.size(),
        }
    }

    /// The fewest bytes a match can take (0: the node can match nothing).
    fn min_len(&self) -> usize {
        match self {
            Node::Char(_) | Node::Set(_) => 1,
            Node::Concat(items) => items
                .iter()
                .fold(0, |sum, n| sum.saturating_add(n.min_len())),
            Node::Alt(alts) => alts.iter().map(Node::min_len).min().unwrap_or(0),
            Node::Repeat { node, min, .. } => node.min_len().saturating_mul(*min as usize),
            Node::Ahead { .. } => 0,
        }
    }
}

impl Pattern {
    /// Compiles `source`, or says why this matcher leaves it to another engine.
    pub fn new(source: &str) -> Result<Pattern, Unsupported> {
        if source.len() > MAX_PATTERN {
            return Err(Unsupported(format!("longer than {MAX_PATTERN} bytes")));
        }
        let mut p = Parser {
            chars: source.chars().collect(),
            at: 0,
            fold: false,
            depth: 0,
        };
        let root = p.alternation()?;
        if p.at < p.chars.len() {
            return Err(Unsupported(format!("unmatched ')' at {}", p.at)));
        }
        if root.min_len() == 0 {
            return Err(Unsupported("it can match the empty string".into()));
        }
        if root.chain() > MAX_CHAIN {
            return Err(Unsupported(format!(
                "a match may pass more than {MAX_CHAIN} nodes in a row"
            )));
        }
        if root.size() > MAX_NODES {
            return Err(Unsupported(format!("more than {MAX_NODES} nodes")));
        }
        let first = root.first().cloned();
        let steps_per_byte =
            (STEPS_PER_BYTE + STEPS_PER_NODE * root.size()).min(STEPS_PER_BYTE_MAX);
        Ok(Pattern {
            root,
            first,
            steps_per_byte,
        })
    }

    /// The most steps a search may take per byte of text before it gives up.
    pub fn steps_per_byte(&self) -> u64 {
        self.steps_per_byte
    }

    /// Every match in `text`, left to right, as byte ranges: at each position the match the
    /// alternatives' order and greedy repetition give; after a match, the search goes on from
    /// its end.
    pub fn find_iter(&self, text: &str) -> Result<Vec<(usize, usize)>, TooSlow> {
        let mut run = Run {
            text,
            steps: 0,
            limit: STEPS_MIN + self.steps_per_byte * text.len() as u64,
        };
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < text.len() {
            if let Some(first) = &self.first {
                match text[pos..].find(|c| run.takes(first, c)) {
                    Some(skip) => pos += skip,
                    None => break,
                }
            }
            let mut end = None;
            run.node(&self.root, pos, &mut |_, e| {
                end = Some(e);
                true
            });
            if run.steps > run.limit {
                return Err(TooSlow);
            }
            match end {
                // Never empty: the pattern cannot match nothing.
                Some(e) => {
                    out.push((pos, e));
                    pos = e;
                }
                None => pos += char_at(text, pos).map_or(1, char::len_utf8),
            }
        }
        Ok(out)
    }

    /// Steps a search of `text` takes (tests: how far the shipped patterns stay from the limit).
    #[cfg(test)]
    fn steps(&self, text: &str) -> u64 {
        let mut run = Run {
            text,
            steps: 0,
            limit: u64::MAX,
        };
        let mut pos = 0;
        while pos < text.len() {
            let mut end = None;
            run.node(&self.root, pos, &mut |_, e| {
                end = Some(e);
                true
            });
            pos = end.unwrap_or(pos + char_at(text, pos).map_or(1, char::len_utf8));
        }
        run.steps
    }
}

fn char_at(text: &str, pos: usize) -> Option<char> {
    text.get(pos..).and_then(|s| s.chars().next())
}

// ---- matching --------------------------------------------------------------------------------

/// One search: the text and the steps taken so far.
struct Run<'t> {
    text: &'t str,
    steps: u64,
    limit: u64,
}

/// What to do after a node matched up to a position: the rest of the pattern.
type Next<'a, 't> = dyn FnMut(&mut Run<'t>, usize) -> bool + 'a;

impl<'t> Run<'t> {
    /// Whether `node` (a `Char` or `Set`) takes `c`.
    fn takes(&self, node: &Node, c: char) -> bool {
        match node {
            Node::Char(x) => *x == c,
            Node::Set(set) => set.contains(c),
            _ => false,
        }
    }

    /// The end of one character at `pos` if `node` (a `Char` or `Set`) takes it.
    fn one(&self, node: &Node, pos: usize) -> Option<usize> {
        let c = char_at(self.text, pos)?;
        self.takes(node, c).then(|| pos + c.len_utf8())
    }

    /// Whether `node` matches at `pos` such that `next` accepts where it ends (trying ends in
    /// the pattern's order of preference). Past the step limit every call answers `true` at
    /// once, unwinding the search; the caller sees `steps > limit`.
    fn node(&mut self, node: &Node, pos: usize, next: &mut Next<'_, 't>) -> bool {
        self.steps += 1;
        if self.steps > self.limit {
            return true;
        }
        match node {
            Node::Char(_) | Node::Set(_) => match self.one(node, pos) {
                Some(end) => next(self, end),
                None => false,
            },
            Node::Concat(items) => self.concat(items, pos, next),
            Node::Alt(alts) => {
                for alt in alts {
                    if self.node(alt, pos, next) {
                        return true;
                    }
                }
                false
            }
            Node::Repeat { node, min, max } if matches!(**node, Node::Char(_) | Node::Set(_)) => {
                // One character at a time: take as many as allowed, then give back one by one.
                let (mut end, mut count) = (pos, 0);
                while count < *max {
                    match self.one(node, end) {
                        Some(e) => (end, count) = (e, count + 1),
                        None => break,
                    }
                }
                self.steps += u64::from(count);
                loop {
                    if count < *min {
                        return false;
                    }
                    if next(self, end) {
                        return true;
                    }
                    if count == *min {
                        return false;
                    }
                    let back = self.text[..end]
                        .chars()
                        .next_back()
                        .map_or(1, char::len_utf8);
                    (end, count) = (end - back, count - 1);
                    self.steps += 1;
                    if self.steps > self.limit {
                        return true;
                    }
                }
            }
            Node::Repeat { node, min, max } => self.repeat(node, *min, *max, 0, pos, next),
            Node::Ahead { node, negated } => {
                let hit = self.node(node, pos, &mut |_, _| true);
                if self.steps > self.limit {
                    return true;
                }
                hit != *negated && next(self, pos)
            }
        }
    }

    fn concat(&mut self, items: &[Node], pos: usize, next: &mut Next<'_, 't>) -> bool {
        match items.split_first() {
            None => next(self, pos),
            Some((first, rest)) => self.node(first, pos, &mut |run, p| run.concat(rest, p, next)),
        }
    }

    /// A group repeated (bounded): one more time if it can, else stop here. An iteration that
    /// matched nothing ends the loop there (the engines' rule: it would match nothing again),
    /// and stands for any iterations still required.
    fn repeat(
        &mut self,
        node: &Node,
        min: u32,
        max: u32,
        count: u32,
        pos: usize,
        next: &mut Next<'_, 't>,
    ) -> bool {
        if count < max
            && self.node(node, pos, &mut |run, p| {
                if p == pos {
                    next(run, p)
                } else {
                    run.repeat(node, min, max, count + 1, p, next)
                }
            })
        {
            return true;
        }
        count >= min && next(self, pos)
    }
}

// ---- parsing ---------------------------------------------------------------------------------

struct Parser {
    chars: Vec<char>,
    at: usize,
    /// Inside `(?i:…)`.
    fold: bool,
    depth: usize,
}

fn unsupported<T>(what: impl Into<String>) -> Result<T, Unsupported> {
    Err(Unsupported(what.into()))
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.at += 1;
        }
        hit
    }

    fn next(&mut self) -> Result<char, Unsupported> {
        let c = self
            .peek()
            .ok_or_else(|| Unsupported("ends too early".into()))?;
        self.at += 1;
        Ok(c)
    }

    /// `a|b|…`
    fn alternation(&mut self) -> Result<Node, Unsupported> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return unsupported(format!("nested deeper than {MAX_DEPTH}"));
        }
        let mut alts = vec![self.concatenation()?];
        while self.eat('|') {
            alts.push(self.concatenation()?);
        }
        self.depth -= 1;
        Ok(if alts.len() == 1 {
            alts.remove(0)
        } else {
            Node::Alt(alts)
        })
    }

    /// Atoms, each with its repetition, up to `|`, `)` or the end.
    fn concatenation(&mut self) -> Result<Node, Unsupported> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.repetition(atom)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::Concat(items)
        })
    }

    fn atom(&mut self) -> Result<Node, Unsupported> {
        match self.next()? {
            '(' => self.group(),
            '[' => self.class(),
            '\\' => self.escape(),
            // Any character but a line feed (the engines' default without the `s` flag).
            '.' => Ok(Node::Set(Set {
                negated: true,
                ranges: vec![('\n', '\n')],
                ..Set::default()
            })),
            c @ ('^' | '$') => unsupported(format!("anchor '{c}'")),
            c @ ('*' | '+' | '?' | '{' | '}' | ']') => {
                unsupported(format!("'{c}' with nothing to repeat"))
            }
            c => self.literal(c),
        }
    }

    fn literal(&self, c: char) -> Result<Node, Unsupported> {
        if !self.fold || (c.is_ascii() && !c.is_ascii_alphabetic()) {
            return Ok(Node::Char(c));
        }
        if !c.is_ascii() {
            // Which other characters it matches would need Unicode's case folding tables.
            return unsupported(format!("case-insensitive '{c}'"));
        }
        let mut ranges = vec![
            (c.to_ascii_lowercase(), c.to_ascii_lowercase()),
            (c.to_ascii_uppercase(), c.to_ascii_uppercase()),
        ];
        ranges.extend(unicode::ascii_folds(c).iter().map(|&f| (f, f)));
        Ok(Node::Set(Set {
            ranges,
            ..Set::default()
        }))
    }

    fn group(&mut self) -> Result<Node, Unsupported> {
        let fold = self.fold;
        let node = if self.eat('?') {
            match self.next()? {
                ':' => self.alternation()?,
                '=' | '!' => {
                    let negated = self.chars[self.at - 1] == '!';
                    let node = Box::new(self.alternation()?);
                    Node::Ahead { node, negated }
                }
                'i' if self.eat(':') => {
                    self.fold = true;
                    let node = self.alternation()?;
                    self.fold = fold;
                    node
                }
                c => return unsupported(format!("group '(?{c}'")),
            }
        } else {
            // A capturing group: a split uses the whole match only.
            self.alternation()?
        };
        if !self.eat(')') {
            return unsupported("unclosed group");
        }
        Ok(node)
    }

    /// `?`, `*`, `+`, `{m}`, `{m,}`, `{m,n}` after an atom (greedy only).
    fn repetition(&mut self, atom: Node) -> Result<Node, Unsupported> {
        let (min, max) = match self.peek() {
            Some('?') => (0, 1),
            Some('*') => (0, UNBOUNDED),
            Some('+') => (1, UNBOUNDED),
            Some('{') => return self.counted(atom),
            _ => return Ok(atom),
        };
        self.at += 1;
        self.repeat(atom, min, max)
    }

    fn counted(&mut self, atom: Node) -> Result<Node, Unsupported> {
        let close = self.chars[self.at..]
            .iter()
            .position(|&c| c == '}')
            .ok_or_else(|| Unsupported("unclosed '{'".into()))?;
        let inside: String = self.chars[self.at + 1..self.at + close].iter().collect();
        // Digits only: with a space or a sign the engines read `{` as a literal.
        let number = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
                .ok_or_else(|| Unsupported(format!("repetition '{{{inside}}}'")))
        };
        let (min, max) = match inside.split_once(',') {
            None => (number(&inside)?, number(&inside)?),
            Some((lo, "")) => (number(lo)?, UNBOUNDED),
            Some((lo, hi)) => (number(lo)?, number(hi)?),
        };
        if min > max || (max != UNBOUNDED && max > 1000) {
            return unsupported(format!("repetition '{{{inside}}}'"));
        }
        self.at += close + 1;
        self.repeat(atom, min, max)
    }

    fn repeat(&mut self, atom: Node, min: u32, max: u32) -> Result<Node, Unsupported> {
        if matches!(self.peek(), Some('?' | '+')) {
            return unsupported("lazy or possessive repetition");
        }
        let single = matches!(atom, Node::Char(_) | Node::Set(_));
        if matches!(atom, Node::Ahead { .. }) {
            return unsupported("a repeated lookahead");
        }
        if !single && max > MAX_GROUP_REPEAT {
            return unsupported("a group repeated without a small bound");
        }
        // Repetition inside repetition backtracks exponentially (`(?:a*){1,9}b`); the
        // engines' automata do not, so such a pattern stays theirs.
        if !single && atom.has_repeat() {
            return unsupported("a repeated group with a repetition inside");
        }
        // How an iteration that matches nothing counts differs between engines.
        if atom.min_len() == 0 {
            return unsupported("a repeated group that can match nothing");
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
        })
    }

    /// After `\` outside a class.
    fn escape(&mut self) -> Result<Node, Unsupported> {
        // fancy-regex reads these as word boundaries outside a class.
        if let Some(c @ ('<' | '>')) = self.peek() {
            return unsupported(format!("word boundary '\\{c}'"));
        }
        match self.class_escape()? {
            Escaped::Char(c) => self.literal(c),
            Escaped::Set(_) if self.fold => unsupported("a class inside (?i:…)"),
            Escaped::Set(set) => Ok(Node::Set(set)),
        }
    }

    /// After `\`: a character, or a class (`\s`, `\p{L}`, …).
    fn class_escape(&mut self) -> Result<Escaped, Unsupported> {
        let c = self.next()?;
        let space = |negated: bool| Set {
            space: !negated,
            not_space: negated,
            ..Set::default()
        };
        Ok(match c {
            's' => Escaped::Set(space(false)),
            'S' => Escaped::Set(space(true)),
            'd' | 'D' => {
                let nd = unicode::categories("Nd").unwrap_or_default();
                Escaped::Set(Set::of_categories(nd, c == 'D'))
            }
            'p' | 'P' => {
                let name: String = if self.eat('{') {
                    let close = self.chars[self.at..]
                        .iter()
                        .position(|&c| c == '}')
                        .ok_or_else(|| Unsupported("unclosed '\\p{'".into()))?;
                    let name = self.chars[self.at..self.at + close].iter().collect();
                    self.at += close + 1;
                    name
                } else {
                    self.next()?.to_string()
                };
                let cats = unicode::categories(&name)
                    .ok_or_else(|| Unsupported(format!("property '{name}'")))?;
                Escaped::Set(Set::of_categories(cats, c == 'P'))
            }
            'n' => Escaped::Char('\n'),
            'r' => Escaped::Char('\r'),
            't' => Escaped::Char('\t'),
            'f' => Escaped::Char('\u{C}'),
            'v' => Escaped::Char('\u{B}'),
            'a' => Escaped::Char('\u{7}'),
            'x' | 'u' | 'U' => Escaped::Char(self.hex(c)?),
            c if c.is_ascii_punctuation() || c == ' ' => Escaped::Char(c),
            c => return unsupported(format!("escape '\\{c}'")),
        })
    }

    /// `\x7F`, `\x{…}`, `\u00E9`, `\u{…}`, `\U0001F600`.
    fn hex(&mut self, kind: char) -> Result<char, Unsupported> {
        let digits: String = if self.eat('{') {
            let close = self.chars[self.at..]
                .iter()
                .position(|&c| c == '}')
                .ok_or_else(|| Unsupported("unclosed hex escape".into()))?;
            let d = self.chars[self.at..self.at + close].iter().collect();
            self.at += close + 1;
            d
        } else {
            let n = match kind {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let d: String = self.chars.iter().skip(self.at).take(n).collect();
            self.at += d.chars().count();
            d
        };
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or_else(|| Unsupported(format!("hex escape '{digits}'")))
    }

    /// After `[`: items up to the closing `]`.
    fn class(&mut self) -> Result<Node, Unsupported> {
        if self.fold {
            return unsupported("a class inside (?i:…)");
        }
        let mut set = Set {
            negated: self.eat('^'),
            ..Set::default()
        };
        let mut first = true;
        loop {
            let c = self.next()?;
            match c {
                ']' if !first => break,
                '[' => return unsupported("a nested class or [:name:]"),
                '&' | '~' | '-' if self.peek() == Some(c) => {
                    return unsupported(format!("class operation '{c}{c}'"))
                }
                _ => {}
            }
            let first_item = first;
            first = false;
            let lo = if c == '\\' {
                match self.class_escape()? {
                    Escaped::Char(x) => x,
                    Escaped::Set(s) => {
                        merge(&mut set, s);
                        if self.peek() == Some('-') && self.chars.get(self.at + 1) != Some(&']') {
                            return unsupported("a range from a class");
                        }
                        continue;
                    }
                }
            } else {
                c
            };
            let dash = self.peek() == Some('-')
                && !matches!(self.chars.get(self.at + 1), Some(']') | None);
            // regex-syntax: a leading `]` starts no range, and `x--` is a set difference.
            if dash
                && ((c == ']' && set.ranges.is_empty() && first_item)
                    || self.chars.get(self.at + 1) == Some(&'-'))
            {
                return unsupported("a range the engines read otherwise");
            }
            let hi = if dash {
                self.at += 1;
                match self.next()? {
                    '\\' => match self.class_escape()? {
                        Escaped::Char(x) => x,
                        Escaped::Set(_) => return unsupported("a range to a class"),
                    },
                    '[' => return unsupported("a nested class"),
                    x => x,
                }
            } else {
                lo
            };
            if hi < lo {
                return unsupported(format!("range '{lo}-{hi}' out of order"));
            }
            set.ranges.push((lo, hi));
        }
        Ok(Node::Set(set))
    }
}

/// An escape's meaning: a character or a class.
enum Escaped {
    Char(char),
    Set(Set),
}

/// Adds a class escape (`\s`, `\p{L}`, `\P{N}`, `\d`, …) to a class being read.
fn merge(set: &mut Set, item: Set) {
    set.space |= item.space;
    set.not_space |= item.not_space;
    if item.negated {
        set.not_categories.push(item.categories);
    } else {
        set.categories |= item.categories;
    }
}

#[cfg(test)]
mod tests;
