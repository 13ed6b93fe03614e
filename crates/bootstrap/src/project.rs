//! Project-name resolution (spec §4, D23): `--project-name` verbatim, otherwise the first
//! of `pyproject.toml`, `setup.cfg`, `setup.py`, `package.json` and the directory name
//! (in the working directory only) that yields a non-empty slug.

use std::fs;
use std::io;
use std::path::Path;

use crate::json::Json;

/// The name used when no source yields a slug.
pub const FALLBACK_PROJECT: &str = "experiment-sdk-default";

/// Where the project name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProjectSource {
    /// `--project-name`.
    Flag,
    /// `pyproject.toml` (`[project]` or `[tool.poetry]`).
    Pyproject,
    /// `setup.cfg` (`[metadata] name`).
    SetupCfg,
    /// `setup.py` (`setup(name="...")`, read without running it).
    SetupPy,
    /// `package.json` (`"name"`).
    PackageJson,
    /// The working directory's name.
    Directory,
    /// Nothing usable: [`FALLBACK_PROJECT`].
    Fallback,
}

impl ProjectSource {
    /// How the source is named in reports.
    pub fn describe(self) -> &'static str {
        match self {
            ProjectSource::Flag => "--project-name",
            ProjectSource::Pyproject => "pyproject.toml",
            ProjectSource::SetupCfg => "setup.cfg",
            ProjectSource::SetupPy => "setup.py",
            ProjectSource::PackageJson => "package.json",
            ProjectSource::Directory => "the directory name",
            ProjectSource::Fallback => "the fallback project name",
        }
    }
}

/// Lowercases ASCII letters, turns everything outside `[a-z0-9-]` into `-`, collapses
/// runs of `-` and trims them from both ends.
///
/// ```
/// use llmobs_bootstrap::slug;
///
/// assert_eq!(slug("@acme/chat-bot"), "acme-chat-bot");
/// assert_eq!(slug("Café-Bot"), "caf-bot");
/// assert_eq!(slug("日本語"), "");
/// ```
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars() {
        let ch = ch.to_ascii_lowercase();
        let ch = if ch.is_ascii_lowercase() || ch.is_ascii_digit() { ch } else { '-' };
        if ch == '-' && out.ends_with('-') {
            continue;
        }
        out.push(ch);
    }
    out.trim_matches('-').to_owned()
}

/// `experiment-` plus the slug, without doubling a leading `experiment-`.
///
/// ```
/// use llmobs_bootstrap::experiment_name_from_slug;
///
/// assert_eq!(experiment_name_from_slug("chatbot"), "experiment-chatbot");
/// assert_eq!(experiment_name_from_slug("experiment-foo"), "experiment-foo");
/// assert_eq!(experiment_name_from_slug("experiment"), "experiment-experiment");
/// ```
pub fn experiment_name_from_slug(slug: &str) -> String {
    let rest = slug.strip_prefix("experiment-").unwrap_or(slug);
    format!("experiment-{rest}")
}

/// Resolves the project name. `warnings` receives the spec's messages about files that
/// could not be parsed and about the fallback.
pub fn resolve_project_name(
    explicit: Option<&str>,
    cwd: &Path,
    warnings: &mut Vec<String>,
) -> (String, ProjectSource) {
    if let Some(name) = explicit {
        return (name.to_owned(), ProjectSource::Flag);
    }
    type Reader = fn(&str) -> Result<Option<String>, String>;
    let sources: [(&str, ProjectSource, Reader); 4] = [
        ("pyproject.toml", ProjectSource::Pyproject, from_pyproject),
        ("setup.cfg", ProjectSource::SetupCfg, from_setup_cfg),
        ("setup.py", ProjectSource::SetupPy, from_setup_py),
        ("package.json", ProjectSource::PackageJson, from_package_json),
    ];
    for (file, source, read) in sources {
        let text = match fs::read(cwd.join(file)) {
            Ok(bytes) => String::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => Err(io_reason(&e)),
        };
        match text.and_then(|text| read(&text)) {
            Ok(Some(name)) => {
                let slug = slug(&name);
                if !slug.is_empty() {
                    return (experiment_name_from_slug(&slug), source);
                }
            }
            Ok(None) => {}
            Err(reason) => warnings.push(format!("Could not parse {file} ({reason}); skipped it.")),
        }
    }
    if let Some(base) = cwd.file_name() {
        let slug = slug(&base.to_string_lossy());
        if !slug.is_empty() {
            return (experiment_name_from_slug(&slug), ProjectSource::Directory);
        }
    }
    warnings.push(format!(
        "No project name found; using {FALLBACK_PROJECT}. Pass --project-name to choose one."
    ));
    (FALLBACK_PROJECT.to_owned(), ProjectSource::Fallback)
}

fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::IsADirectory => "it is a directory".to_owned(),
        _ => format!("cannot read it: {}", e.kind()),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

fn from_pyproject(text: &str) -> Result<Option<String>, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| match e.span() {
        Some(span) => {
            let (line, column) = line_col(text, span.start);
            format!("invalid TOML at line {line}, column {column}")
        }
        None => "invalid TOML".to_owned(),
    })?;
    let project = table.get("project").and_then(|p| p.get("name")).and_then(|n| n.as_str());
    let poetry = || table.get("tool")?.get("poetry")?.get("name")?.as_str().map(str::to_owned);
    Ok(project.map(str::to_owned).or_else(poetry))
}

/// `[metadata] name` as Python's configparser reads it (keys are case-insensitive,
/// `=` or `:` separates, indented lines continue a value, `#` and `;` start comments).
fn from_setup_cfg(text: &str) -> Result<Option<String>, String> {
    let mut section: Option<&str> = None;
    let mut name: Option<String> = None;
    let mut in_name = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if raw.starts_with([' ', '\t']) && in_name {
            if let Some(value) = name.as_mut() {
                value.push('\n');
                value.push_str(line);
            }
            continue;
        }
        in_name = false;
        if let Some(rest) = line.strip_prefix('[') {
            let Some(title) = rest.strip_suffix(']') else {
                return Err(format!("invalid INI at line {}", i + 1));
            };
            section = Some(title);
            continue;
        }
        let Some(split) = line.find(['=', ':']) else {
            return Err(format!("invalid INI at line {}", i + 1));
        };
        if section.is_none() {
            return Err(format!("invalid INI at line {}: no section header", i + 1));
        }
        let key = line[..split].trim().to_lowercase();
        if section == Some("metadata") && key == "name" {
            name = Some(line[split + 1..].trim().to_owned());
            in_name = true;
        }
    }
    Ok(name
        .map(|v| v.trim().to_owned())
        .filter(|v| !(v.starts_with("attr:") || v.starts_with("file:"))))
}

fn from_package_json(text: &str) -> Result<Option<String>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match Json::parse(text) {
        Ok(Json::Object(pairs)) => Ok(pairs.into_iter().find_map(|(k, v)| match v {
            Json::Str(name) if k == "name" => Some(name),
            _ => None,
        })),
        Ok(_) => Err("the top level is not an object".to_owned()),
        Err(e) => Err(format!("invalid JSON at line {}, column {}", e.line, e.column)),
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Name(String),
    /// A string literal: `Some(value)` for a plain one-quote literal with no prefix.
    Str(Option<String>),
    Op(&'static str),
    Other,
}

/// Splits Python source into the tokens the `setup()` search needs. Comments and string
/// contents never produce names or operators.
fn tokenize(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_whitespace() || c == '\\' {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let is_prefix = word.len() <= 2
                && word.chars().all(|p| "rRbBuUfF".contains(p))
                && matches!(chars.get(i), Some('\'' | '"'));
            if is_prefix {
                let (_, next) = string_literal(&chars, i);
                tokens.push(Token::Str(None));
                i = next;
            } else {
                tokens.push(Token::Name(word));
            }
        } else if c == '\'' || c == '"' {
            let (value, next) = string_literal(&chars, i);
            tokens.push(Token::Str(value));
            i = next;
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            tokens.push(Token::Other);
        } else {
            let (op, len) = match (c, chars.get(i + 1).copied()) {
                ('=', Some('=')) => (Some("=="), 2),
                ('!' | '<' | '>' | ':', Some('=')) | ('*', Some('*')) | ('-', Some('>')) => {
                    (None, 2)
                }
                ('=', _) => (Some("="), 1),
                ('(', _) => (Some("("), 1),
                (')', _) => (Some(")"), 1),
                ('[' | '{', _) => (Some("["), 1),
                (']' | '}', _) => (Some("]"), 1),
                (',', _) => (Some(","), 1),
                _ => (None, 1),
            };
            i += len;
            tokens.push(op.map_or(Token::Other, Token::Op));
        }
    }
    tokens
}

/// Reads a string literal starting at the quote `chars[start]`. Returns its value when
/// it is a plain single-line literal, and the index just after it.
fn string_literal(chars: &[char], start: usize) -> (Option<String>, usize) {
    let quote = chars[start];
    let triple = chars.get(start + 1) == Some(&quote) && chars.get(start + 2) == Some(&quote);
    if triple {
        let mut i = start + 3;
        while i < chars.len() {
            if chars[i] == '\\' {
                i += 2;
            } else if chars[i] == quote
                && chars.get(i + 1) == Some(&quote)
                && chars.get(i + 2) == Some(&quote)
            {
                return (None, i + 3);
            } else {
                i += 1;
            }
        }
        return (None, chars.len());
    }
    let mut value = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                match chars.get(i + 1) {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('\n') => {}
                    Some(&c @ ('\\' | '\'' | '"')) => value.push(c),
                    Some(&c) => {
                        value.push('\\');
                        value.push(c);
                    }
                    None => {}
                }
                i += 2;
            }
            '\n' => return (None, i),
            c if c == quote => return (Some(value), i + 1),
            c => {
                value.push(c);
                i += 1;
            }
        }
    }
    (None, chars.len())
}

/// `name=` of the first `setup(...)` / `x.setup(...)` call, read without running it.
fn from_setup_py(text: &str) -> Result<Option<String>, String> {
    let tokens = tokenize(text);
    let is_definition = |at: usize| {
        at > 0 && matches!(&tokens[at - 1], Token::Name(n) if n == "def" || n == "class")
    };
    let call = (0..tokens.len().saturating_sub(1)).find(|&at| {
        matches!(&tokens[at], Token::Name(n) if n == "setup")
            && tokens[at + 1] == Token::Op("(")
            && !is_definition(at)
    });
    let Some(call) = call else { return Ok(None) };
    let mut depth = 0usize;
    let mut i = call + 1;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Op("(") | Token::Op("[") => depth += 1,
            Token::Op(")") | Token::Op("]") => {
                depth -= 1;
                if depth == 0 {
                    return Ok(None);
                }
            }
            Token::Name(n)
                if depth == 1
                    && n == "name"
                    && matches!(tokens[i - 1], Token::Op("(") | Token::Op(","))
                    && tokens.get(i + 1) == Some(&Token::Op("=")) =>
            {
                return Ok(match (tokens.get(i + 2), tokens.get(i + 3)) {
                    (Some(Token::Str(Some(value))), Some(Token::Op(",") | Token::Op(")"))) => {
                        Some(value.clone())
                    }
                    _ => None,
                });
            }
            _ => {}
        }
        i += 1;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rule_examples() {
        let cases = [
            ("chatbot", "experiment-chatbot"),
            ("experiment-foo", "experiment-foo"),
            ("experiment-experiment-foo", "experiment-experiment-foo"),
            ("experimental-thing", "experiment-experimental-thing"),
            ("experiment", "experiment-experiment"),
            ("My_LLM.App", "experiment-my-llm-app"),
            ("@acme/chat-bot", "experiment-acme-chat-bot"),
            ("Café-Bot", "experiment-caf-bot"),
            ("My Project (v2)", "experiment-my-project-v2"),
        ];
        for (input, expected) in cases {
            assert_eq!(experiment_name_from_slug(&slug(input)), expected, "{input}");
        }
        assert_eq!(slug("___"), "");
    }

    #[test]
    fn setup_py_decoys_are_ignored() {
        let src = "# name=\"fake\"\nfrom setuptools import Extension\next = Extension(name=\"ext\")\n\
                   s = 'setup(name=\"str\")'\nsetuptools.setup(\n    name = 'real',\n    ext_modules=[ext],\n)\n";
        assert_eq!(from_setup_py(src).unwrap(), Some("real".into()));
        assert_eq!(from_setup_py("setup(name=NAME)").unwrap(), None);
        assert_eq!(from_setup_py("setup(name='a' 'b')").unwrap(), None);
        assert_eq!(from_setup_py("setup(name=f'x')").unwrap(), None);
        assert_eq!(
            from_setup_py("setup(version='1', name=\"sp-app\")").unwrap(),
            Some("sp-app".into())
        );
        assert_eq!(from_setup_py("setup(cmd=dict(name='x'), name='y')").unwrap(), Some("y".into()));
        assert_eq!(from_setup_py("def setup(name='x'): pass").unwrap(), None);
        assert_eq!(
            from_setup_py("def setup(name='x'): pass\nsetup(name='z')").unwrap(),
            Some("z".into())
        );
        assert_eq!(from_setup_py("setup(name == 'x')").unwrap(), None);
    }

    #[test]
    fn setup_cfg_reads_the_metadata_name() {
        assert_eq!(from_setup_cfg("[metadata]\nName = cfg-app\n").unwrap(), Some("cfg-app".into()));
        assert_eq!(from_setup_cfg("[metadata]\nname: x\n").unwrap(), Some("x".into()));
        assert_eq!(from_setup_cfg("[options]\nname = no\n").unwrap(), None);
        assert_eq!(from_setup_cfg("[metadata]\nname = attr: pkg.NAME\n").unwrap(), None);
        assert!(from_setup_cfg("name = x\n").is_err());
        assert!(from_setup_cfg("[metadata\nname = x\n").is_err());
    }

    #[test]
    fn pyproject_prefers_pep621_over_poetry() {
        let both = "[project]\nname = \"pep\"\n[tool.poetry]\nname = \"poet\"\n";
        assert_eq!(from_pyproject(both).unwrap(), Some("pep".into()));
        assert_eq!(
            from_pyproject("[tool.poetry]\nname = \"poet\"\n").unwrap(),
            Some("poet".into())
        );
        assert_eq!(
            from_pyproject("[project]\ndynamic = [\"name\"]\n[tool.poetry]\nname = \"poet\"\n")
                .unwrap(),
            Some("poet".into())
        );
        assert!(from_pyproject("[project\nname=").unwrap_err().contains("line 1"));
    }
}
