//! Cache keys: a typed key for the in-memory map, the reference client's SHA-1 file
//! name for the disk tier (spec §4.1), and the scope that keeps caches of different
//! servers and organisations apart.
//!
//! A cached prompt belongs to one origin (the base URL requests go to) and one
//! organisation (the API key's). The memory tier belongs to one [`Client`](crate::Client),
//! which has one origin and one key; the disk tier is shared by processes, so its files
//! live under a directory named by [`scope`]: a hash of the origin and the API key, never
//! the key itself.
//!
//! The hot path never formats or hashes JSON: [`KeyRef`] borrows the prompt id and the
//! selector and hashes like the owned [`Key`], so a lookup allocates nothing.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use llmobs_core::pyjson;
use sha1::{Digest, Sha1};

/// The name of the disk tier's directory for one origin and one API key: 16 hex
/// characters of SHA-1 over both. The key cannot be read back from it (an API key has
/// far more entropy than a guess could cover), and two origins or two keys never share
/// a directory.
pub(crate) fn scope(origin: &str, api_key: Option<&str>) -> String {
    let mut hasher = Sha1::new();
    hasher.update(b"llmobs prompt cache\0");
    hasher.update(origin.trim_end_matches('/').as_bytes());
    hasher.update(b"\0");
    hasher.update(api_key.unwrap_or("").as_bytes());
    let digest = hasher.finalize();
    let mut out = String::with_capacity(16);
    for byte in &digest[..8] {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Which version of a prompt a call selects (spec §4.1 precedence: version, label,
/// resolve, latest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    /// The newest version.
    Latest,
    /// An exact version number.
    Version(u64),
    /// The version carrying a label (deprecated on Datadog).
    Label(Box<str>),
    /// Environment resolution: never written to disk.
    Resolve {
        env: Box<str>,
        targeting_key: Option<Box<str>>,
        /// The attributes, as sorted JSON: part of the identity.
        attributes: Box<str>,
    },
}

/// A borrowed selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SelectorRef<'a> {
    Latest,
    Version(u64),
    Label(&'a str),
    Resolve { env: &'a str, targeting_key: Option<&'a str>, attributes: &'a str },
}

impl Selector {
    pub(crate) fn as_ref(&self) -> SelectorRef<'_> {
        match self {
            Selector::Latest => SelectorRef::Latest,
            Selector::Version(version) => SelectorRef::Version(*version),
            Selector::Label(label) => SelectorRef::Label(label),
            Selector::Resolve { env, targeting_key, attributes } => {
                SelectorRef::Resolve { env, targeting_key: targeting_key.as_deref(), attributes }
            }
        }
    }
}

/// An owned cache key: a prompt id and a selector.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) id: Box<str>,
    pub(crate) selector: Selector,
}

/// A borrowed cache key, for allocation-free lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyRef<'a> {
    pub(crate) id: &'a str,
    pub(crate) selector: SelectorRef<'a>,
}

impl Key {
    #[cfg(test)]
    pub(crate) fn new(id: &str, selector: Selector) -> Self {
        Key { id: id.into(), selector }
    }

    pub(crate) fn as_ref(&self) -> KeyRef<'_> {
        KeyRef { id: &self.id, selector: self.selector.as_ref() }
    }

    /// The reference client's file name stem: 16 hex characters of SHA-1 of the
    /// selector's Python JSON.
    #[cfg(test)]
    pub(crate) fn suffix(&self) -> String {
        self.as_ref().suffix()
    }
}

impl KeyRef<'_> {
    pub(crate) fn to_owned(self) -> Key {
        let selector = match self.selector {
            SelectorRef::Latest => Selector::Latest,
            SelectorRef::Version(version) => Selector::Version(version),
            SelectorRef::Label(label) => Selector::Label(label.into()),
            SelectorRef::Resolve { env, targeting_key, attributes } => Selector::Resolve {
                env: env.into(),
                targeting_key: targeting_key.map(Into::into),
                attributes: attributes.into(),
            },
        };
        Key { id: self.id.into(), selector }
    }

    /// See [`Key::suffix`].
    pub(crate) fn suffix(&self) -> String {
        let mut json = String::with_capacity(32);
        match self.selector {
            SelectorRef::Latest => json.push_str(r#"["latest"]"#),
            SelectorRef::Version(version) => {
                let _ = write!(json, r#"["version", {version}]"#);
            }
            SelectorRef::Label(label) => {
                json.push_str(r#"["label", "#);
                pyjson::write_str(&mut json, label);
                json.push(']');
            }
            SelectorRef::Resolve { env, targeting_key, attributes } => {
                json.push_str(r#"["resolve", "#);
                pyjson::write_str(&mut json, env);
                json.push_str(", ");
                match targeting_key {
                    Some(key) => pyjson::write_str(&mut json, key),
                    None => json.push_str("null"),
                }
                json.push_str(", ");
                json.push_str(attributes);
                json.push(']');
            }
        }
        let digest = Sha1::digest(json.as_bytes());
        let mut out = String::with_capacity(16);
        for byte in &digest[..8] {
            let _ = write!(out, "{byte:02x}");
        }
        out
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_ref().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_ref() == other.as_ref()
    }
}

impl Eq for Key {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn resolve(env: &str, key: Option<&str>, attributes: Value) -> Selector {
        let mut text = String::new();
        pyjson::write_object(&mut text, attributes.as_object().unwrap(), true);
        Selector::Resolve {
            env: env.into(),
            targeting_key: key.map(Into::into),
            attributes: text.into(),
        }
    }

    #[test]
    fn suffixes_match_the_reference_table() {
        let cases = [
            (Selector::Latest, "c4ca0a086f77d3b9"),
            (Selector::Version(1), "b80b064934cae83f"),
            (Selector::Version(3), "4d7c9a79ed77485c"),
            (Selector::Label("production".into()), "4bf41a53d5918864"),
            (Selector::Label("".into()), "ca9ee0ab426c4d89"),
            (resolve("prod", None, json!({})), "06ca4e11c0c06b0e"),
            (resolve("prod", Some("user-1"), json!({"tier": "gold", "n": 3})), "8c7277c98bd4ac2d"),
            (Selector::Label("prod".into()), "cfe710a6c06ed1b2"),
        ];
        for (selector, suffix) in cases {
            assert_eq!(Key::new("p", selector.clone()).suffix(), suffix, "{selector:?}");
        }
    }

    #[test]
    fn scopes_differ_by_origin_and_key_and_hide_the_key() {
        let a = scope("https://api.datadoghq.com", Some("key-1"));
        assert_eq!(a.len(), 16);
        assert_eq!(a, scope("https://api.datadoghq.com/", Some("key-1")));
        assert_ne!(a, scope("https://api.datadoghq.eu", Some("key-1")));
        assert_ne!(a, scope("https://api.datadoghq.com", Some("key-2")));
        assert!(!a.contains("key"));
    }

    #[test]
    fn python_formatting() {
        let mut out = String::new();
        pyjson::write(
            &mut out,
            &json!({"b": [1, -2, 0.5, 1e20, 1.5e-7, 100.0, 1234567890123456.0, 1e16, 0.0001],
                    "a": "ü\"\\\n😀\u{7f}", "c": null, "d": {"z": true, "y": false}}),
            true,
        );
        assert_eq!(
            out,
            r#"{"a": "\u00fc\"\\\n\ud83d\ude00\u007f", "b": [1, -2, 0.5, 1e+20, 1.5e-07, 100.0, 1234567890123456.0, 1e+16, 0.0001], "c": null, "d": {"y": false, "z": true}}"#
        );
    }

    #[test]
    fn borrowed_and_owned_keys_agree() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |value: &dyn Fn(&mut DefaultHasher)| {
            let mut hasher = DefaultHasher::new();
            value(&mut hasher);
            hasher.finish()
        };
        let owned = Key::new("a:b", Selector::Label("x".into()));
        let borrowed = KeyRef { id: "a:b", selector: SelectorRef::Label("x") };
        assert_eq!(hash(&|h| owned.hash(h)), hash(&|h| borrowed.hash(h)));
        assert_eq!(borrowed, owned.as_ref());
        assert_eq!(borrowed.to_owned(), owned);
        let other = KeyRef { id: "a", selector: SelectorRef::Label("b:x") };
        assert_ne!(other, owned.as_ref());
    }
}
