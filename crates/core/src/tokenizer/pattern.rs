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
//! `[!--]`) — is [`Unsupported`]: our own pipeline then does not read that file, and only the
//! `tokenizers` crate does (`engine.rs`, in the builds that carry it).
//!
//! Work is bounded: a search gives up ([`TooSlow`]: our pipeline refuses that text with a reason;
//! the crate's pipeline asks the crate's engine) after [`Pattern::steps_per_byte`] steps per byte
//! of text: 256 plus 4 per node of the pattern (a list of alternatives is tried one by one), at
//! most 1,024; patterns of more than 1,024 nodes are not read. The shipped patterns need fewer
//! than 32.

mod parse;

use std::fmt;

use super::unicode::{self, Categories};
use parse::Parser;

/// The most steps a search may take per byte of text: this, plus [`STEPS_PER_NODE`] for each node
/// of the pattern, at most [`STEPS_PER_BYTE_MAX`], plus [`STEPS_MIN`] in all.
const STEPS_PER_BYTE: u64 = 256;
const STEPS_PER_NODE: u64 = 4;
const STEPS_PER_BYTE_MAX: u64 = 1024;
const STEPS_MIN: u64 = 100_000;
/// Larger patterns (long word lists) stay the crate's: its automata take them in linear time.
const MAX_NODES: u64 = 1024;
/// The longest pattern we take on.
const MAX_PATTERN: usize = 20_000;
/// The most nodes one match may pass in a row (the matcher's recursion depth, which must stay
/// far inside a wasm stack).
const MAX_CHAIN: usize = 512;

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
    /// Whether `self` is one character (`Char` or `Set`).
    fn is_single(&self) -> bool {
        matches!(self, Node::Char(_) | Node::Set(_))
    }

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
            Node::Repeat { node, .. } if node.is_single() => 1,
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
        let root = Parser::new(source).pattern()?;
        if root.min_len() == 0 {
            return Err(Unsupported("it can match the empty string".into()));
        }
        if root.chain() > MAX_CHAIN {
            return Err(Unsupported(format!(
                "a match may pass more than {MAX_CHAIN} nodes in a row"
            )));
        }
        let size = root.size();
        if size > MAX_NODES {
            return Err(Unsupported(format!("more than {MAX_NODES} nodes")));
        }
        let first = root.first().cloned();
        let steps_per_byte = (STEPS_PER_BYTE + STEPS_PER_NODE * size).min(STEPS_PER_BYTE_MAX);
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
        let limit = STEPS_MIN + self.steps_per_byte * text.len() as u64;
        let (found, steps) = self.search(text, limit);
        if steps > limit {
            return Err(TooSlow);
        }
        Ok(found)
    }

    /// Steps a search of `text` takes (tests: how far the shipped patterns stay from the limit).
    #[cfg(test)]
    fn steps(&self, text: &str) -> u64 {
        self.search(text, u64::MAX).1
    }

    /// The matches in `text` and the steps taken, stopping once they pass `limit`.
    fn search(&self, text: &str, limit: u64) -> (Vec<(usize, usize)>, u64) {
        let mut run = Run {
            text,
            steps: 0,
            limit,
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
                break;
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
        (out, run.steps)
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
            Node::Repeat { node, min, max } if node.is_single() => {
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

#[cfg(test)]
mod tests;
