//! Who is calling: bearer tokens checked against the auth file
//! (`serve --auth FILE`), and new tokens for it (`hyperfleet token new`).
//!
//! The file maps the SHA-256 hash (hex) of each token to whom it belongs:
//!
//! ```yaml
//! # hyperfleet-auth.yaml
//! "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08": {subject: alice, teams: [alpha], role: member}
//! "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752": {subject: sentinel, role: adapter}
//! ```
//!
//! Only hashes are stored, so the file is no secret worth stealing. A
//! presented token is hashed and its digest compared with every stored one,
//! each comparison in constant time and without stopping at a match, so the
//! time an answer takes says nothing about how close a guess came.

use std::path::Path;
use std::sync::Arc;

use hyperfleet_api::validation::check_label_value;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token holder may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, on every cluster.
    Admin,
    /// Everything, on the clusters of its teams.
    Member,
    /// Read every resource and report statuses; nothing else (the sentinel
    /// and adapters).
    Adapter,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Adapter => "adapter",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "adapter" => Ok(Role::Adapter),
            _ => Err(format!(
                "unknown role {text:?}: expected admin, member or adapter"
            )),
        }
    }
}

/// Whom a token belongs to: one entry of the auth file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// Who it is, for logs (`alice`, `dns-adapter`).
    pub subject: String,
    /// The teams it belongs to: the values of the `team` label of the
    /// clusters it may see. Members need at least one; adapters none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
    pub role: Role,
}

/// Longest subject the file accepts.
const MAX_SUBJECT_LEN: usize = 128;

impl Principal {
    /// The rules of an entry, so a typo is an error at start-up rather than
    /// a user who cannot see their clusters.
    pub fn check(&self) -> Result<(), String> {
        let subject_ok = !self.subject.trim().is_empty()
            && self.subject.len() <= MAX_SUBJECT_LEN
            && !self.subject.chars().any(char::is_control);
        if !subject_ok {
            return Err(format!(
                "subject {:?} must be 1-{MAX_SUBJECT_LEN} printable characters",
                self.subject
            ));
        }
        for (i, team) in self.teams.iter().enumerate() {
            if team.is_empty() {
                return Err("a team name cannot be empty".to_string());
            }
            // Teams are compared with `team` label values.
            check_label_value(team).map_err(|e| format!("team: {e}"))?;
            if self.teams[..i].contains(team) {
                return Err(format!("team {team:?} is listed twice"));
            }
        }
        match (self.role, self.teams.is_empty()) {
            (Role::Member, true) => Err("a member needs at least one team".to_string()),
            (Role::Adapter, false) => {
                Err("an adapter sees every team: it takes no `teams`".to_string())
            }
            _ => Ok(()),
        }
    }
}

/// A SHA-256 digest.
type Hash = [u8; 32];

/// The SHA-256 hash of a token, as the auth file stores it.
pub fn hash(token: &str) -> Hash {
    Sha256::digest(token.as_bytes()).into()
}

/// The known tokens, by hash. Cheap to clone.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Arc<Vec<(Hash, Arc<Principal>)>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} entries)", self.entries.len())
    }
}

/// Why the auth file was refused.
#[derive(Debug, thiserror::Error)]
#[error("auth file {path}: {message}")]
pub struct AuthFileError {
    pub path: String,
    pub message: String,
}

impl Tokens {
    /// Read the auth file at `path` (YAML, or JSON, which is YAML too).
    pub fn load(path: &Path) -> Result<Tokens, AuthFileError> {
        let error = |message: String| AuthFileError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        Tokens::parse(&text).map_err(error)
    }

    /// Parse the text of an auth file. An empty file is refused: a server
    /// that nobody may use is a configuration mistake.
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let entries: Option<Entries> = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
        let entries = entries.map(|e| e.0).unwrap_or_default();
        if entries.is_empty() {
            return Err("no tokens: add one with `hyperfleet token new`".to_string());
        }
        let mut tokens = Tokens::default();
        for (key, principal) in entries {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(&key, &mut digest).map_err(|_| {
                format!("{key:?} is not a SHA-256 hash: expected 64 hexadecimal digits")
            })?;
            tokens
                .insert(digest, principal)
                .map_err(|e| format!("{key}: {e}"))?;
        }
        Ok(tokens)
    }

    /// Accept `token` for `principal` (as `dev` does with the token it gives
    /// its own sentinel and adapters).
    pub fn add(&mut self, token: &str, principal: Principal) -> Result<(), String> {
        self.insert(hash(token), principal)
    }

    fn insert(&mut self, digest: Hash, principal: Principal) -> Result<(), String> {
        principal.check()?;
        // Upper- and lower-case spellings of one hash are one key.
        if self.entries.iter().any(|(known, _)| *known == digest) {
            return Err("this hash is listed twice".to_string());
        }
        Arc::make_mut(&mut self.entries).push((digest, Arc::new(principal)));
        Ok(())
    }

    /// How many tokens are known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whom `token` belongs to, if anyone. Every stored hash is compared,
    /// each in constant time, whatever matched before.
    pub fn verify(&self, token: &str) -> Option<Arc<Principal>> {
        let digest = hash(token);
        let mut found = None;
        for (stored, principal) in self.entries.iter() {
            if bool::from(stored.as_slice().ct_eq(digest.as_slice())) {
                found = Some(principal.clone());
            }
        }
        found
    }
}

/// The entries of an auth file in order, repeated keys kept: a map type
/// would silently keep one of two entries for the same hash.
struct Entries(Vec<(String, Principal)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping of SHA-256 token hashes to {subject, teams, role}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// Why a request was not authenticated; each is a 401.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    Malformed,
    /// More than one `Authorization` header. Which one would count is up to
    /// each proxy and server on the way, so a request that carries two is
    /// refused rather than judged by whichever comes first.
    Repeated,
    /// A bearer token that is not in the auth file.
    Unknown,
}

impl Rejection {
    /// The message of the 401.
    pub fn message(self) -> &'static str {
        match self {
            Rejection::Missing => {
                "missing bearer token: send the header `Authorization: Bearer <token>`"
            }
            Rejection::Malformed => "the Authorization header must be `Bearer <token>`",
            Rejection::Repeated => "send exactly one Authorization header",
            Rejection::Unknown => "invalid bearer token",
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 section 3: no error code
    /// when no credentials came at all).
    pub fn challenge(self) -> &'static str {
        match self {
            Rejection::Missing => r#"Bearer realm="hyperfleet""#,
            Rejection::Malformed | Rejection::Unknown => {
                r#"Bearer realm="hyperfleet", error="invalid_token""#
            }
            // RFC 6750 section 3.1: a request that repeats a parameter.
            Rejection::Repeated => r#"Bearer realm="hyperfleet", error="invalid_request""#,
        }
    }
}

/// Who sent a request, as far as permissions go.
#[derive(Clone, Debug)]
pub enum Caller {
    /// Authentication is off (`serve` without `--auth`): anyone may do
    /// anything, and clusters get no team by default.
    Anyone,
    /// The holder of a valid token.
    Principal(Arc<Principal>),
}

/// Who sent a request with these headers. Without `tokens` (no `--auth`)
/// the API is open and the header is not even read.
pub fn authenticate(
    tokens: Option<&Tokens>,
    headers: &http::HeaderMap,
) -> Result<Caller, Rejection> {
    let Some(tokens) = tokens else {
        return Ok(Caller::Anyone);
    };
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next().ok_or(Rejection::Missing)?;
    if values.next().is_some() {
        return Err(Rejection::Repeated);
    }
    let text = value.to_str().map_err(|_| Rejection::Malformed)?;
    let (scheme, token) = text.split_once(' ').ok_or(Rejection::Malformed)?;
    // The scheme is case-insensitive (RFC 9110 section 11.1).
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Rejection::Malformed);
    }
    tokens
        .verify(token)
        .map(Caller::Principal)
        .ok_or(Rejection::Unknown)
}

/// Prefix of minted tokens, so secret scanners and people recognise them.
pub const TOKEN_PREFIX: &str = "hf_";

/// A new token, and the line of the auth file that accepts it.
#[derive(Debug)]
pub struct Minted {
    pub token: String,
    pub line: String,
}

/// Make a token for `principal`: 256 bits from the operating system's
/// random source, as hex after [`TOKEN_PREFIX`]. The token itself is never
/// stored; only the returned line (its hash) goes into the auth file.
pub fn mint(principal: &Principal) -> Result<Minted, String> {
    principal.check()?;
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| format!("the operating system's random source failed: {e}"))?;
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
    Ok(Minted {
        line: file_line(&hash(&token), principal)?,
        token,
    })
}

/// One entry of the auth file, in JSON flow style (which YAML reads as it
/// is) so every value is quoted and the key never reads as a number.
fn file_line(digest: &Hash, principal: &Principal) -> Result<String, String> {
    let value = serde_json::to_string(principal).map_err(|e| e.to_string())?;
    Ok(format!("\"{}\": {value}", hex::encode(digest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(subject: &str, teams: &[&str]) -> Principal {
        Principal {
            subject: subject.into(),
            teams: teams.iter().map(|t| t.to_string()).collect(),
            role: Role::Member,
        }
    }

    fn headers(authorization: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(authorization).expect("a header value"),
        );
        headers
    }

    #[test]
    fn hashes_are_sha256_hex() {
        // The test vector of FIPS 180-2 for "abc".
        assert_eq!(
            hex::encode(hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn minted_tokens_are_random_and_their_line_loads() {
        let alice = member("alice", &["alpha"]);
        let one = mint(&alice).expect("minted");
        let two = mint(&alice).expect("minted");
        assert_ne!(one.token, two.token);
        assert!(one.token.starts_with(TOKEN_PREFIX));
        assert_eq!(one.token.len(), TOKEN_PREFIX.len() + 64);
        assert!(!one.line.contains(&one.token), "only the hash is written");

        let file = format!("# two tokens\n{}\n{}\n", one.line, two.line);
        let tokens = Tokens::parse(&file).expect("the minted lines load");
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens.verify(&one.token).as_deref(), Some(&alice));
        assert_eq!(tokens.verify("hf_guess"), None);
    }

    #[test]
    fn the_file_is_yaml_or_json() {
        let yaml = format!(
            "# comment\n\"{}\": {{subject: alice, teams: [alpha, beta], role: member}}\n\
             {}:\n  subject: admin\n  role: admin\n",
            hex::encode(hash("alice-token")),
            hex::encode(hash("admin-token")).to_uppercase(),
        );
        let tokens = Tokens::parse(&yaml).expect("YAML loads");
        assert_eq!(
            tokens.verify("alice-token").map(|p| p.teams.clone()),
            Some(vec!["alpha".to_string(), "beta".to_string()])
        );
        assert_eq!(
            tokens.verify("admin-token").map(|p| p.role),
            Some(Role::Admin)
        );

        let json = format!(
            r#"{{"{}": {{"subject": "dns", "role": "adapter"}}}}"#,
            hex::encode(hash("dns-token"))
        );
        let tokens = Tokens::parse(&json).expect("JSON loads");
        assert_eq!(
            tokens.verify("dns-token").map(|p| p.role),
            Some(Role::Adapter)
        );
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        let key = hex::encode(hash("t"));
        for (file, reason) in [
            (String::new(), "no tokens"),
            ("# nothing\n".to_string(), "no tokens"),
            (
                "abc: {subject: a, role: admin}".to_string(),
                "not a SHA-256 hash",
            ),
            (
                format!("\"{key}\": {{subject: a, role: member}}"),
                "at least one team",
            ),
            (
                format!("\"{key}\": {{subject: a, role: adapter, teams: [x]}}"),
                "takes no `teams`",
            ),
            (
                format!("\"{key}\": {{subject: a, role: root}}"),
                "unknown variant",
            ),
            (
                format!("\"{key}\": {{subject: a, role: admin, colour: red}}"),
                "unknown field",
            ),
            (
                format!("\"{key}\": {{subject: '', role: admin}}"),
                "subject",
            ),
            (
                format!("\"{key}\": {{subject: a, role: member, teams: [Bad Team]}}"),
                "team",
            ),
            (
                format!("\"{key}\": {{subject: a, role: member, teams: [a, a]}}"),
                "twice",
            ),
            (
                format!(
                    "\"{key}\": {{subject: a, role: admin}}\n\"{}\": {{subject: b, role: admin}}",
                    key.to_uppercase()
                ),
                "twice",
            ),
            (
                format!(
                    "\"{key}\": {{subject: a, role: admin}}\n\"{key}\": {{subject: b, role: admin}}"
                ),
                "twice",
            ),
        ] {
            match Tokens::parse(&file) {
                Ok(tokens) => panic!("{file:?} loaded: {tokens:?}"),
                Err(error) => assert!(error.contains(reason), "{file:?}: {error}"),
            }
        }
    }

    #[test]
    fn authentication_reads_the_bearer_header() {
        let mut tokens = Tokens::default();
        tokens
            .add("alice-token", member("alice", &["alpha"]))
            .expect("added");
        let caller = |h: &http::HeaderMap| authenticate(Some(&tokens), h);
        assert!(matches!(
            caller(&headers("Bearer alice-token")),
            Ok(Caller::Principal(p)) if p.subject == "alice"
        ));
        assert!(caller(&headers("bearer alice-token")).is_ok());
        assert_eq!(
            caller(&http::HeaderMap::new()).err(),
            Some(Rejection::Missing)
        );
        for malformed in ["Basic YWxpY2U6eA==", "Bearer", "Bearer  ", "alice-token"] {
            assert_eq!(
                caller(&headers(malformed)).err(),
                Some(Rejection::Malformed),
                "{malformed}"
            );
        }
        assert_eq!(
            caller(&headers("Bearer bob-token")).err(),
            Some(Rejection::Unknown)
        );
        // Two headers are refused whichever of them is valid, in either order.
        for pair in [
            ["Bearer alice-token", "junk"],
            ["junk", "Bearer alice-token"],
            ["Bearer alice-token", "Bearer alice-token"],
        ] {
            let mut twice = http::HeaderMap::new();
            for value in pair {
                twice.append(
                    http::header::AUTHORIZATION,
                    http::HeaderValue::from_static(value),
                );
            }
            assert_eq!(caller(&twice).err(), Some(Rejection::Repeated), "{pair:?}");
        }
        // Without an auth file nobody is asked.
        assert!(matches!(
            authenticate(None, &http::HeaderMap::new()),
            Ok(Caller::Anyone)
        ));
    }
}
