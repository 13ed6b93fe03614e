//! The words of a corpus: tokens, document frequencies, and the terms that set a group of
//! documents apart from the rest (a class-based TF-IDF).

use std::collections::HashMap;

/// Words too common to say what a text is about.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "but", "by", "can", "could", "did", "do", "does", "for", "from", "get",
    "had", "has", "have", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is",
    "it", "its", "just", "like", "me", "more", "my", "no", "not", "now", "of", "on", "one", "or",
    "our", "out", "please", "she", "should", "so", "some", "than", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "to", "up", "us", "was", "we", "were", "what",
    "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
];

/// The most words of one text that count.
const MAX_TOKENS: usize = 512;

/// The words of `text` that count: lower-cased runs of letters and digits, two characters
/// or more, not stopwords, not bare numbers.
pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .filter(|w| STOPWORDS.binary_search(&w.as_str()).is_err())
        .take(MAX_TOKENS)
}

/// A corpus as term ids: each document's distinct terms with their counts, and each term's
/// document frequency.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// The terms, by id.
    pub vocabulary: Vec<String>,
    /// In how many documents each term appears.
    pub df: Vec<u32>,
    /// Each document's `(term id, count)`, by term id.
    pub documents: Vec<Vec<(u32, u32)>>,
}

impl Corpus {
    /// The corpus of `texts`.
    pub fn new(texts: &[String]) -> Corpus {
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut vocabulary = Vec::new();
        let mut df: Vec<u32> = Vec::new();
        let mut documents = Vec::with_capacity(texts.len());
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for text in texts {
            counts.clear();
            for token in tokens(text) {
                let next = vocabulary.len() as u32;
                let id = *ids.entry(token).or_insert_with_key(|token| {
                    vocabulary.push(token.clone());
                    df.push(0);
                    next
                });
                *counts.entry(id).or_insert(0) += 1;
            }
            let mut document: Vec<(u32, u32)> = counts.iter().map(|(&t, &c)| (t, c)).collect();
            document.sort_unstable();
            for &(term, _) in &document {
                df[term as usize] += 1;
            }
            documents.push(document);
        }
        Corpus { vocabulary, df, documents }
    }

    /// The inverse document frequency of a term (smoothed, at least 1).
    pub fn idf(&self, term: u32) -> f32 {
        let n = self.documents.len() as f32;
        ((1.0 + n) / (1.0 + self.df[term as usize] as f32)).ln() + 1.0
    }

    /// The `count` terms that best set the documents `members` apart from the corpus:
    /// the share of members holding a term times the term's IDF, best first (ties by
    /// term). Terms held by one member only are left out when the group has more.
    pub fn distinctive(&self, members: &[usize], count: usize) -> Vec<String> {
        let mut held: HashMap<u32, u32> = HashMap::new();
        for &member in members {
            for &(term, _) in &self.documents[member] {
                *held.entry(term).or_insert(0) += 1;
            }
        }
        let size = members.len().max(1) as f32;
        let min_held = if members.len() > 1 { 2 } else { 1 };
        let mut scored: Vec<(f32, &str)> = held
            .into_iter()
            .filter(|&(_, n)| n >= min_held)
            .map(|(term, n)| {
                (n as f32 / size * self.idf(term), self.vocabulary[term as usize].as_str())
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored.into_iter().take(count).map(|(_, term)| term.to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_for_the_binary_search() {
        assert!(STOPWORDS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn tokens_drop_stopwords_numbers_and_single_letters() {
        let found: Vec<String> = tokens("How do I refund order #1234, a B-52?").collect();
        assert_eq!(found, ["refund", "order"]);
    }

    #[test]
    fn distinctive_terms_are_the_group_s_own() {
        let texts: Vec<String> =
            ["refund order now", "refund my order", "paris weather", "weather today"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        let corpus = Corpus::new(&texts);
        assert_eq!(corpus.distinctive(&[0, 1], 2), ["order", "refund"]);
        assert_eq!(corpus.distinctive(&[2, 3], 1), ["weather"]);
    }
}
