//! Discovery on generated corpora with known groups.

use super::*;

/// A small seeded generator for the corpora.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % below
    }
}

const FILLER: &[&str] = &[
    "help", "need", "question", "thanks", "hello", "quick", "today", "again", "issue", "problem",
    "possible", "tell", "know", "want", "make", "sure", "right", "time", "thing", "way",
];

const GROUPS: &[&[&str]] = &[
    &[
        "refund", "order", "payment", "charged", "card", "invoice", "receipt", "billing", "money",
        "paid",
    ],
    &[
        "weather",
        "rain",
        "forecast",
        "sunny",
        "temperature",
        "snow",
        "umbrella",
        "cloudy",
        "storm",
        "wind",
    ],
    &[
        "python",
        "code",
        "error",
        "function",
        "compile",
        "bug",
        "stacktrace",
        "library",
        "import",
        "syntax",
    ],
    &[
        "flight", "hotel", "booking", "airport", "luggage", "passport", "trip", "seat", "boarding",
        "travel",
    ],
    &[
        "recipe",
        "pasta",
        "dinner",
        "cook",
        "oven",
        "salad",
        "ingredients",
        "bake",
        "sauce",
        "kitchen",
    ],
    &[
        "password", "login", "account", "reset", "locked", "email", "username", "verify",
        "security", "access",
    ],
];

/// `per_group` texts of each group: 4 to 8 of the group's words among 3 to 6 filler words,
/// shuffled; returns the texts and their group.
fn corpus(per_group: usize, seed: u64) -> (Vec<String>, Vec<usize>) {
    let mut rng = Lcg(seed);
    let mut texts = Vec::new();
    let mut groups = Vec::new();
    for i in 0..per_group * GROUPS.len() {
        let group = i % GROUPS.len();
        let mut words: Vec<&str> = Vec::new();
        for _ in 0..4 + rng.next(5) {
            words.push(GROUPS[group][rng.next(GROUPS[group].len())]);
        }
        for _ in 0..3 + rng.next(4) {
            words.push(FILLER[rng.next(FILLER.len())]);
        }
        for j in (1..words.len()).rev() {
            words.swap(j, rng.next(j + 1));
        }
        texts.push(words.join(" "));
        groups.push(group);
    }
    (texts, groups)
}

#[test]
fn the_adjusted_rand_index_matches_known_values() {
    assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 3, 3]), 1.0);
    // scikit-learn's documented example: 0.5714...
    let ari = adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]);
    assert!((ari - 4.0 / 7.0).abs() < 1e-9, "{ari}");
    // Splitting every group in two halves scores well below 1.
    let truth: Vec<usize> = (0..100).map(|i| i / 50).collect();
    let halves: Vec<usize> = (0..100).map(|i| i / 25).collect();
    assert!(adjusted_rand_index(&truth, &halves) < 0.7);
}

#[test]
fn local_discovery_recovers_known_groups() {
    let (texts, truth) = corpus(120, 42);
    let found = discover(&texts, None, &Settings::new(1)).unwrap();
    let ari = adjusted_rand_index(&truth, &found.leaf_of);
    eprintln!("adjusted Rand index {ari:.3}, {} topics", found.topics.len());
    assert!(ari >= 0.8, "adjusted Rand index {ari:.3} with {} topics", found.topics.len());
    // Each topic is named from its group's own words.
    for topic in &found.topics {
        let group = truth[topic.members[0]];
        assert!(
            GROUPS[group].contains(&topic.terms[0].as_str()),
            "{:?} for group {group}",
            topic.terms
        );
    }
}

#[test]
fn provider_embeddings_are_clustered_as_given() {
    let (texts, truth) = corpus(30, 3);
    // One-hot vectors of the true group, as a perfect provider would embed.
    let vectors: Vec<Vec<f32>> = truth
        .iter()
        .map(|&g| (0..GROUPS.len()).map(|d| if d == g { 1.0 } else { 0.0 }).collect())
        .collect();
    let found = discover(&texts, Some(vectors), &Settings::new(1)).unwrap();
    assert_eq!(adjusted_rand_index(&truth, &found.leaf_of), 1.0);
    let short = discover(&texts, Some(vec![vec![1.0]]), &Settings::new(1)).unwrap_err();
    assert!(matches!(short, TopicsError::Embeddings(_)));
}

#[test]
fn deeper_hierarchies_nest_every_point() {
    let (texts, truth) = corpus(60, 9);
    let found = discover(&texts, None, &Settings::new(3)).unwrap();
    // Levels 2 (top), 1, 0 (leaves); each child's members are inside its parent's.
    let levels: Vec<usize> = found.topics.iter().map(|t| t.level).collect();
    assert!(levels.contains(&2) && levels.contains(&1) && levels.contains(&0), "{levels:?}");
    for topic in &found.topics {
        match topic.parent {
            None => assert_eq!(topic.level, 2),
            Some(p) => {
                let parent = &found.topics[p];
                assert_eq!(parent.level, topic.level + 1);
                assert!(topic.members.iter().all(|m| parent.members.contains(m)));
            }
        }
    }
    let top_total: usize =
        found.topics.iter().filter(|t| t.level == 2).map(|t| t.members.len()).sum();
    assert_eq!(top_total, texts.len());
    for (point, &leaf) in found.leaf_of.iter().enumerate() {
        assert_eq!(found.topics[leaf].level, 0);
        assert!(found.topics[leaf].members.contains(&point));
    }
    // The top level still separates the groups.
    let top_of: Vec<usize> = found
        .leaf_of
        .iter()
        .map(|&leaf| {
            let mut t = leaf;
            while let Some(p) = found.topics[t].parent {
                t = p;
            }
            t
        })
        .collect();
    assert!(adjusted_rand_index(&truth, &top_of) >= 0.8);
}

#[test]
fn tiny_and_empty_inputs_make_one_topic() {
    let found = discover(&["only one".to_owned()], None, &Settings::new(2)).unwrap();
    assert_eq!(found.topics.len(), 2);
    assert_eq!(found.leaf_of, vec![1]);
    let none = discover(&[], None, &Settings::new(1)).unwrap();
    assert_eq!(none.topics.len(), 1);
    assert!(none.topics[0].members.is_empty());
    assert_eq!(discover(&[], None, &Settings::new(0)).unwrap_err(), TopicsError::NoLevels);
}
