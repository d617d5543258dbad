//! Whether a changed `pattern` still accepts every string the old one did.
//!
//! Two regular expressions cannot be compared in general here (it takes
//! building automata, and ECMA-262 lookarounds and backreferences are not
//! regular), but the changes people make mostly keep the shape of the old
//! pattern: an alternative added (`(old)|(new)`), a character class grown
//! (`[a-z]` -> `[a-z0-9]`), a repetition range widened (`{1,63}` ->
//! `{1,253}`). Both patterns are parsed and compared node by node, and a
//! verdict is given only when every node relates the same way: regex
//! operators are monotone, so a pattern whose parts each accept more
//! accepts more. Anything else is undecidable, and says why.

use std::cmp::Ordering;

/// How the new pattern's strings relate to the old one's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Written differently, the same strings.
    Same,
    /// Every string the old pattern accepted, and more.
    Widened,
    /// Only strings the old pattern accepted.
    Narrowed,
    /// Not shown either way: why, in words.
    Undecidable(String),
}

pub(super) fn compare(old: &str, new: &str) -> Verdict {
    let parsed = |which: &str, pattern: &str| {
        parse(pattern).map_err(|why| {
            format!("the {which} pattern uses {why}, which spec-diff does not compare")
        })
    };
    let (o, n) = match (parsed("old", old), parsed("new", new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(why), _) | (_, Err(why)) => return Verdict::Undecidable(why),
    };
    match relate(&o, &n) {
        Rel::Equal => Verdict::Same,
        Rel::Wider => Verdict::Widened,
        Rel::Narrower => Verdict::Narrowed,
        Rel::Mixed => Verdict::Undecidable(
            "one part of the pattern accepts more and another accepts less".into(),
        ),
        Rel::Unknown => Verdict::Undecidable(
            "the new pattern neither adds alternatives to the old one nor only grows or \
             shrinks its character classes and repetition ranges"
                .into(),
        ),
    }
}

/// Highest Unicode scalar value: the universe character sets complement in.
const MAX_CHAR: u32 = 0x10FFFF;

/// A set of characters as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CharSet(Vec<(u32, u32)>);

impl CharSet {
    fn of(ranges: &[(u32, u32)]) -> Self {
        let mut ranges: Vec<(u32, u32)> = ranges.iter().copied().filter(|(a, b)| a <= b).collect();
        ranges.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::new();
        for (a, b) in ranges {
            match out.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        CharSet(out)
    }

    fn char(c: char) -> Self {
        CharSet(vec![(c as u32, c as u32)])
    }

    fn union(&self, other: &CharSet) -> CharSet {
        let all: Vec<(u32, u32)> = self.0.iter().chain(&other.0).copied().collect();
        CharSet::of(&all)
    }

    fn complement(&self) -> CharSet {
        let mut out = Vec::new();
        let mut next = 0u32;
        for &(a, b) in &self.0 {
            if a > next {
                out.push((next, a - 1));
            }
            next = b.saturating_add(1);
        }
        if next <= MAX_CHAR {
            out.push((next, MAX_CHAR));
        }
        CharSet(out)
    }

    fn is_subset(&self, other: &CharSet) -> bool {
        self.0
            .iter()
            .all(|&(a, b)| other.0.iter().any(|&(c, d)| c <= a && b <= d))
    }

    fn digits() -> Self {
        CharSet::of(&[('0' as u32, '9' as u32)])
    }

    fn word() -> Self {
        CharSet::of(&[
            ('0' as u32, '9' as u32),
            ('A' as u32, 'Z' as u32),
            ('_' as u32, '_' as u32),
            ('a' as u32, 'z' as u32),
        ])
    }

    /// ECMA-262 WhiteSpace and LineTerminator.
    fn space() -> Self {
        CharSet::of(&[
            (0x09, 0x0D),
            (0x20, 0x20),
            (0xA0, 0xA0),
            (0x1680, 0x1680),
            (0x2000, 0x200A),
            (0x2028, 0x2029),
            (0x202F, 0x202F),
            (0x205F, 0x205F),
            (0x3000, 0x3000),
            (0xFEFF, 0xFEFF),
        ])
    }

    /// `.`: anything but a line terminator.
    fn dot() -> Self {
        CharSet::of(&[(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)]).complement()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Assertion {
    Start,
    End,
    WordBoundary,
    NotWordBoundary,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    /// One character out of a set (a literal is a set of one).
    Set(CharSet),
    Assert(Assertion),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    /// A node repeated between min and max (none: unbounded) times.
    Repeat(Box<Node>, u32, Option<u32>),
}

fn parse(pattern: &str) -> Result<Node, String> {
    let mut parser = Parser {
        chars: pattern.chars().collect(),
        at: 0,
    };
    let node = parser.alternation()?;
    match parser.peek() {
        None => Ok(node),
        Some(c) => Err(format!("an unmatched `{c}`")),
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        // Never past the end, so slices up to the cursor stay in bounds.
        if c.is_some() {
            self.at += 1;
        }
        c
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn alternation(&mut self) -> Result<Node, String> {
        let mut branches = vec![self.concatenation()?];
        while self.eat('|') {
            branches.push(self.concatenation()?);
        }
        Ok(simplify(Node::Alt(branches)))
    }

    fn concatenation(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(simplify(Node::Concat(items)))
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let (min, max) = match self.peek() {
            Some('{') => match self.braces() {
                Some(range) => range,
                None => return Err("a `{` that is not a repetition".into()),
            },
            Some(c @ ('*' | '+' | '?')) => {
                self.at += 1;
                match c {
                    '*' => (0, None),
                    '+' => (1, None),
                    _ => (0, Some(1)),
                }
            }
            _ => return Ok(atom),
        };
        if matches!(atom, Node::Assert(_)) {
            return Err("a repeated assertion".into());
        }
        // Laziness changes which match is found, not whether one is.
        self.eat('?');
        Ok(Node::Repeat(Box::new(atom), min, max))
    }

    /// `{n}`, `{n,}` or `{n,m}` at the cursor, consumed when well formed.
    fn braces(&mut self) -> Option<(u32, Option<u32>)> {
        let start = self.at;
        let range = self.braces_from_here();
        if range.is_none() {
            self.at = start;
        }
        range
    }

    fn braces_from_here(&mut self) -> Option<(u32, Option<u32>)> {
        self.at += 1; // the `{`
        let min = self.number()?;
        let max = if self.eat(',') {
            if self.peek() == Some('}') {
                None
            } else {
                Some(self.number()?)
            }
        } else {
            Some(min)
        };
        if !self.eat('}') || max.is_some_and(|m| m < min) {
            return None;
        }
        Some((min, max))
    }

    fn number(&mut self) -> Option<u32> {
        let from = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        self.chars[from..self.at]
            .iter()
            .collect::<String>()
            .parse()
            .ok()
    }

    fn atom(&mut self) -> Result<Node, String> {
        let Some(c) = self.next() else {
            return Err("an unexpected end".into());
        };
        Ok(match c {
            '(' => {
                if self.eat('?') {
                    match self.next() {
                        Some(':') => {}
                        Some('<') if !matches!(self.peek(), Some('=' | '!')) => {
                            while self.next().is_some_and(|c| c != '>') {}
                        }
                        _ => return Err("a lookaround".into()),
                    }
                }
                let inner = self.alternation()?;
                if !self.eat(')') {
                    return Err("an unclosed group".into());
                }
                inner
            }
            '[' => Node::Set(self.class()?),
            '.' => Node::Set(CharSet::dot()),
            '^' => Node::Assert(Assertion::Start),
            '$' => Node::Assert(Assertion::End),
            '*' | '+' | '?' => return Err(format!("a `{c}` with nothing to repeat")),
            '\\' => match self.next() {
                Some('b') => Node::Assert(Assertion::WordBoundary),
                Some('B') => Node::Assert(Assertion::NotWordBoundary),
                Some(c) => Node::Set(self.escape(c)?),
                None => return Err("a trailing `\\`".into()),
            },
            c => Node::Set(CharSet::char(c)),
        })
    }

    /// The set an escape outside or inside a class stands for.
    fn escape(&mut self, c: char) -> Result<CharSet, String> {
        let single = |u: u32| CharSet(vec![(u, u)]);
        Ok(match c {
            'd' => CharSet::digits(),
            'D' => CharSet::digits().complement(),
            'w' => CharSet::word(),
            'W' => CharSet::word().complement(),
            's' => CharSet::space(),
            'S' => CharSet::space().complement(),
            't' => single(0x09),
            'n' => single(0x0A),
            'v' => single(0x0B),
            'f' => single(0x0C),
            'r' => single(0x0D),
            '0' if !self.peek().is_some_and(|d| d.is_ascii_digit()) => single(0),
            '1'..='9' | 'k' => return Err("a backreference".into()),
            'x' => single(self.hex(2)?),
            'u' => single(self.hex(4)?),
            'p' | 'P' | 'c' => return Err(format!("`\\{c}`")),
            c if c.is_ascii_alphanumeric() => return Err(format!("`\\{c}`")),
            c => CharSet::char(c),
        })
    }

    fn hex(&mut self, digits: usize) -> Result<u32, String> {
        let text: String = (0..digits).filter_map(|_| self.next()).collect();
        u32::from_str_radix(&text, 16)
            .ok()
            .filter(|_| text.len() == digits)
            .ok_or_else(|| "a malformed hexadecimal escape".to_string())
    }

    /// A class, after its `[`.
    fn class(&mut self) -> Result<CharSet, String> {
        let negated = self.eat('^');
        let mut set = CharSet(Vec::new());
        loop {
            let Some(c) = self.next() else {
                return Err("an unclosed character class".into());
            };
            if c == ']' {
                break;
            }
            let low = self.class_atom(c)?;
            let is_range = self.peek() == Some('-') && !matches!(self.peek_at(1), Some(']') | None);
            match (low, is_range) {
                (ClassAtom::Char(a), true) => {
                    self.at += 1;
                    let Some(c) = self.next() else {
                        return Err("an unclosed character class".into());
                    };
                    match self.class_atom(c)? {
                        ClassAtom::Char(b) if a <= b => set = set.union(&CharSet::of(&[(a, b)])),
                        _ => return Err("a malformed class range".into()),
                    }
                }
                (ClassAtom::Set(_), true) => return Err("a class range from a class".into()),
                (ClassAtom::Char(a), false) => set = set.union(&CharSet(vec![(a, a)])),
                (ClassAtom::Set(s), false) => set = set.union(&s),
            }
        }
        Ok(if negated { set.complement() } else { set })
    }

    fn class_atom(&mut self, c: char) -> Result<ClassAtom, String> {
        if c != '\\' {
            return Ok(ClassAtom::Char(c as u32));
        }
        let Some(e) = self.next() else {
            return Err("a trailing `\\`".into());
        };
        if e == 'b' {
            return Ok(ClassAtom::Char(0x08)); // backspace, inside a class
        }
        let set = self.escape(e)?;
        Ok(match set.0.as_slice() {
            [(a, b)] if a == b => ClassAtom::Char(*a),
            _ => ClassAtom::Set(set),
        })
    }
}

enum ClassAtom {
    Char(u32),
    Set(CharSet),
}

/// One-item sequences and choices are their item; nested ones flatten.
fn simplify(node: Node) -> Node {
    match node {
        Node::Concat(items) => {
            let mut flat = Vec::new();
            for item in items {
                match item {
                    Node::Concat(inner) => flat.extend(inner),
                    other => flat.push(other),
                }
            }
            if flat.len() == 1 {
                flat.remove(0)
            } else {
                Node::Concat(flat)
            }
        }
        Node::Alt(branches) => {
            let mut flat = Vec::new();
            for branch in branches {
                match branch {
                    Node::Alt(inner) => flat.extend(inner),
                    other => flat.push(other),
                }
            }
            if flat.len() == 1 {
                flat.remove(0)
            } else {
                Node::Alt(flat)
            }
        }
        other => other,
    }
}

/// How the strings a new node matches relate to an old node's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rel {
    Equal,
    Wider,
    Narrower,
    /// Parts moved both ways.
    Mixed,
    Unknown,
}

impl Rel {
    fn and(self, other: Rel) -> Rel {
        match (self, other) {
            (Rel::Unknown, _) | (_, Rel::Unknown) => Rel::Unknown,
            (Rel::Equal, r) | (r, Rel::Equal) => r,
            (a, b) if a == b => a,
            _ => Rel::Mixed,
        }
    }

    fn includes_old(self) -> bool {
        matches!(self, Rel::Equal | Rel::Wider)
    }

    fn within_old(self) -> bool {
        matches!(self, Rel::Equal | Rel::Narrower)
    }
}

fn relate(old: &Node, new: &Node) -> Rel {
    match (old, new) {
        (Node::Set(a), Node::Set(b)) => match (a.is_subset(b), b.is_subset(a)) {
            (true, true) => Rel::Equal,
            (true, false) => Rel::Wider,
            (false, true) => Rel::Narrower,
            (false, false) => Rel::Unknown,
        },
        (Node::Assert(a), Node::Assert(b)) if a == b => Rel::Equal,
        (Node::Concat(a), Node::Concat(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .fold(Rel::Equal, |acc, (o, n)| acc.and(relate(o, n))),
        (Node::Alt(a), Node::Alt(b)) => choices(a, b),
        (Node::Alt(a), n) => choices(a, std::slice::from_ref(n)),
        (o, Node::Alt(b)) => choices(std::slice::from_ref(o), b),
        (Node::Repeat(a, amin, amax), Node::Repeat(b, bmin, bmax)) => {
            relate(a, b).and(ranges((*amin, *amax), (*bmin, *bmax)))
        }
        // `x` is `x{1}`: compare it with a repetition of the other side.
        (Node::Repeat(a, min, max), n) => relate(a, n).and(ranges((*min, *max), (1, Some(1)))),
        (o, Node::Repeat(b, min, max)) => relate(o, b).and(ranges((1, Some(1)), (*min, *max))),
        _ => Rel::Unknown,
    }
}

/// A choice accepts more when each old branch fits in some new branch, and
/// less when each new branch fits in some old one.
fn choices(old: &[Node], new: &[Node]) -> Rel {
    let wider = old
        .iter()
        .all(|o| new.iter().any(|n| relate(o, n).includes_old()));
    let narrower = new
        .iter()
        .all(|n| old.iter().any(|o| relate(o, n).within_old()));
    match (wider, narrower) {
        (true, true) => Rel::Equal,
        (true, false) => Rel::Wider,
        (false, true) => Rel::Narrower,
        (false, false) => Rel::Unknown,
    }
}

/// How a new repetition range relates to an old one.
fn ranges(old: (u32, Option<u32>), new: (u32, Option<u32>)) -> Rel {
    let max_cmp = match (old.1, new.1) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => a.cmp(&b),
    };
    let min_cmp = old.0.cmp(&new.0);
    match (min_cmp, max_cmp) {
        (Ordering::Equal, Ordering::Equal) => Rel::Equal,
        // The new range starts no later and ends no sooner.
        (Ordering::Greater | Ordering::Equal, Ordering::Less | Ordering::Equal) => Rel::Wider,
        (Ordering::Less | Ordering::Equal, Ordering::Greater | Ordering::Equal) => Rel::Narrower,
        _ => Rel::Mixed,
    }
}

#[cfg(test)]
mod tests {
    use super::{Verdict, compare};

    fn verdict(old: &str, new: &str) -> Verdict {
        compare(old, new)
    }

    fn undecidable(old: &str, new: &str) -> bool {
        matches!(compare(old, new), Verdict::Undecidable(_))
    }

    #[test]
    fn an_added_alternative_widens_and_a_dropped_one_narrows() {
        assert_eq!(
            verdict("^[a-z]+$", "(^[a-z]+$)|(^[0-9]+$)"),
            Verdict::Widened
        );
        assert_eq!(verdict("^[a-z]+$", "^[a-z]+$|^[0-9]$"), Verdict::Widened);
        assert_eq!(verdict("^(a|b)$", "^(a|b|c)$"), Verdict::Widened);
        assert_eq!(verdict("^(a|b|c)$", "^(b|a)$"), Verdict::Narrowed);
        assert_eq!(verdict("^[a-z]+$", "^([a-z]+|[0-9]+)$"), Verdict::Widened);
    }

    #[test]
    fn grown_classes_and_ranges_widen() {
        assert_eq!(
            verdict("^[a-z]{1,63}$", "^[a-z0-9]{1,63}$"),
            Verdict::Widened
        );
        assert_eq!(
            verdict("^[a-z0-9-]{1,63}$", "^[a-z0-9-]{0,253}$"),
            Verdict::Widened
        );
        assert_eq!(verdict("^a+$", "^a*$"), Verdict::Widened);
        assert_eq!(verdict("^ab$", "^a[bc]$"), Verdict::Widened);
        assert_eq!(verdict("^\\d+$", "^\\w+$"), Verdict::Widened);
        assert_eq!(verdict("^[^a-z]$", "^[^a-m]$"), Verdict::Widened);
        assert_eq!(verdict("^x$", "^x?$"), Verdict::Widened);
    }

    #[test]
    fn shrunk_classes_and_ranges_narrow() {
        assert_eq!(
            verdict("^[a-z0-9]{1,63}$", "^[a-z]{1,63}$"),
            Verdict::Narrowed
        );
        assert_eq!(verdict("^[a-z]{1,63}$", "^[a-z]{2,63}$"), Verdict::Narrowed);
        assert_eq!(verdict("^.*$", "^[a-z]*$"), Verdict::Narrowed);
    }

    #[test]
    fn a_rewrite_of_the_same_strings_is_the_same() {
        assert_eq!(verdict("^[a-c]$", "^[abc]$"), Verdict::Same);
        assert_eq!(verdict("^(?:ab)$", "^ab$"), Verdict::Same);
        assert_eq!(verdict("^[0-9]+$", "^\\d+$"), Verdict::Same);
        // The added alternative only matches what the old one did.
        assert_eq!(verdict("^[a-z]+$", "^[a-z]+$|^x$"), Verdict::Same);
    }

    #[test]
    fn what_cannot_be_shown_is_undecidable() {
        // One part grew, another shrank.
        assert!(undecidable("^[a-z]{1,63}$", "^[a-z0-9]{1,10}$"));
        // Different shapes.
        assert!(undecidable("^[a-z]+$", "^[a-z]+-[a-z]+$"));
        // Not comparable at all.
        assert!(undecidable("^(a)\\1$", "^(a)\\1|b$"));
        assert!(undecidable("^(?=a)a$", "^a$"));
        assert!(undecidable("^[a-z]$", "^[0-9]$"));
        // Malformed, or cut short anywhere.
        assert!(undecidable("^[a-z$", "^[a-z]$"));
        for cut in [
            "(", "(?", "(?<", "[", "[a-", "\\", "\\x4", "\\u12", "a{", "a{1,", "a{2,1}",
        ] {
            assert!(undecidable("^a$", cut), "{cut}");
        }
    }

    #[test]
    fn the_contract_patterns_parse() {
        let label = "^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?(:([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)?(,([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?(:([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)?){0,63}$";
        assert_eq!(verdict(label, label), Verdict::Same);
        let phases =
            "^(Pending|Not Ready|Ready|Terminating)(,(Pending|Not Ready|Ready|Terminating))*$";
        let more = "^(Pending|Not Ready|Ready|Terminating|Failed)(,(Pending|Not Ready|Ready|Terminating|Failed))*$";
        assert_eq!(verdict(phases, more), Verdict::Widened);
        assert_eq!(verdict(more, phases), Verdict::Narrowed);
    }
}
