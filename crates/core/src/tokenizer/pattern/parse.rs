//! Reading a pattern's source into [`Node`]s, refusing ([`Unsupported`]) what the matcher does
//! not take on or what the reference engines read otherwise (see the parent module's header).

use super::{unicode, Node, Set, Unsupported};

/// Deepest nesting and largest bounded repetition of a group we take on.
const MAX_DEPTH: usize = 32;
const MAX_GROUP_REPEAT: u32 = 64;
pub(super) const UNBOUNDED: u32 = u32::MAX;

pub(super) struct Parser {
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
    pub(super) fn new(source: &str) -> Parser {
        Parser {
            chars: source.chars().collect(),
            at: 0,
            fold: false,
            depth: 0,
        }
    }

    /// The whole source as one node.
    pub(super) fn pattern(mut self) -> Result<Node, Unsupported> {
        let root = self.alternation()?;
        if self.at < self.chars.len() {
            return unsupported(format!("unmatched ')' at {}", self.at));
        }
        Ok(root)
    }

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

    /// What stands between `{` (already read) and the next `}`, which is read too.
    fn braced(&mut self, what: &str) -> Result<String, Unsupported> {
        let close = self.chars[self.at..]
            .iter()
            .position(|&c| c == '}')
            .ok_or_else(|| Unsupported(format!("unclosed {what}")))?;
        let inside = self.chars[self.at..self.at + close].iter().collect();
        self.at += close + 1;
        Ok(inside)
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
        self.at += 1;
        let inside = self.braced("'{'")?;
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
        self.repeat(atom, min, max)
    }

    fn repeat(&mut self, atom: Node, min: u32, max: u32) -> Result<Node, Unsupported> {
        if matches!(self.peek(), Some('?' | '+')) {
            return unsupported("lazy or possessive repetition");
        }
        let single = atom.is_single();
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
                let name = if self.eat('{') {
                    self.braced("'\\p{'")?
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
            self.braced("hex escape")?
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
