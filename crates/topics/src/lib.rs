//! Topic discovery: what a set of texts (span inputs) is about, as a hierarchy of topics.
//!
//! [`discover`] takes the texts and, optionally, their embeddings from a provider; without
//! them it embeds the texts itself ([`embed::local`]: TF-IDF over the corpus' words,
//! reduced by a seeded sparse random projection). It then clusters the vectors into
//! `depth` levels with k-means (`linfa-clustering`), top-down: the top level first, each
//! topic's members then split again. The number of topics of each split is the one with the
//! best silhouette on a sample. Every topic gets its most distinctive terms
//! ([`terms::distinctive`]), from which [`Topic::name`] makes a name when no model names it.
//!
//! Levels are numbered as Datadog's API numbers them: 0 is a leaf, `depth - 1` the top.
//! Everything is deterministic for a given seed. [`adjusted_rand_index`] scores a clustering
//! against known groups.
//!
//! ```
//! let texts: Vec<String> = (0..40)
//!     .map(|i| if i % 2 == 0 { format!("refund my order {i}") } else { format!("weather in paris {i}") })
//!     .collect();
//! let found = llmobs_topics::discover(&texts, None, &llmobs_topics::Settings::new(1))?;
//! assert_eq!(found.topics.len(), 2);
//! assert_eq!(found.leaf_of[0], found.leaf_of[2]);
//! assert_ne!(found.leaf_of[0], found.leaf_of[1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod embed;
mod hierarchy;
pub mod terms;

pub use hierarchy::adjusted_rand_index;

/// How a discovery runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Levels of the hierarchy, 1 or more.
    pub depth: usize,
    /// Most topics at the top level.
    pub max_top: usize,
    /// Most sub-topics of one topic.
    pub max_split: usize,
    /// Dimensions of the local embedding.
    pub dims: usize,
    /// The seed of every random choice.
    pub seed: u64,
}

impl Settings {
    /// The defaults for `depth` levels: up to 12 top topics, 6 sub-topics each, 128
    /// dimensions, seed 7.
    pub fn new(depth: usize) -> Settings {
        Settings { depth, max_top: 12, max_split: 6, dims: 128, seed: 7 }
    }
}

/// One topic of the hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    /// 0 for a leaf, `depth - 1` for the top.
    pub level: usize,
    /// The index of its parent in [`Discovery::topics`]; `None` at the top.
    pub parent: Option<usize>,
    /// The indexes of its texts, ascending.
    pub members: Vec<usize>,
    /// Its most distinctive terms, best first.
    pub terms: Vec<String>,
}

impl Topic {
    /// A name from its three most distinctive terms, e.g. `refund, order, card`.
    pub fn name(&self) -> String {
        if self.terms.is_empty() {
            return "other".to_owned();
        }
        self.terms.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
    }

    /// A description: how many inputs, and the terms that set them apart.
    pub fn description(&self) -> String {
        let terms: Vec<&str> = self.terms.iter().take(8).map(String::as_str).collect();
        let count = self.members.len();
        let inputs = if count == 1 { "input" } else { "inputs" };
        if terms.is_empty() {
            format!("{count} {inputs}")
        } else {
            format!("{count} {inputs}; distinctive terms: {}", terms.join(", "))
        }
    }
}

/// What [`discover`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// Every topic, each parent before its children.
    pub topics: Vec<Topic>,
    /// For each text, the index of its leaf topic.
    pub leaf_of: Vec<usize>,
}

/// Why a discovery cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicsError {
    /// `depth` is 0.
    #[error("the hierarchy needs at least one level")]
    NoLevels,
    /// Embeddings were given, but not one per text, or of different lengths.
    #[error("expected one embedding per text, all of the same length ({0})")]
    Embeddings(String),
    /// The clustering library failed.
    #[error("clustering failed: {0}")]
    Clustering(String),
}

/// Clusters `texts` into a hierarchy of `settings.depth` levels and finds each topic's
/// distinctive terms. `embeddings`, when given, are used instead of the local method.
pub fn discover(
    texts: &[String],
    embeddings: Option<Vec<Vec<f32>>>,
    settings: &Settings,
) -> Result<Discovery, TopicsError> {
    if settings.depth == 0 {
        return Err(TopicsError::NoLevels);
    }
    let corpus = terms::Corpus::new(texts);
    let vectors = match embeddings {
        Some(given) => embed::from_rows(given, texts.len())?,
        None => embed::local(&corpus, settings.dims, settings.seed),
    };
    let mut discovery = hierarchy::build(&vectors, settings)?;
    for topic in &mut discovery.topics {
        topic.terms = corpus.distinctive(&topic.members, 8);
    }
    Ok(discovery)
}

#[cfg(test)]
mod tests;
