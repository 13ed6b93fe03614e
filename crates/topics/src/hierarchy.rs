//! The hierarchy: top-down k-means with the number of topics chosen by silhouette, and the
//! adjusted Rand index that scores a clustering against known groups.

use std::collections::HashMap;

use linfa::DatasetBase;
use linfa::prelude::{Fit, Predict};
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::{Array2, Axis};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;

use crate::{Discovery, Settings, Topic, TopicsError};

/// The most points the number of topics is chosen on.
const SAMPLE: usize = 600;

/// A topic is split only when the best split's silhouette reaches this (the top level is
/// always split when it can be).
const MIN_SPLIT_SILHOUETTE: f32 = 0.1;

/// A topic with fewer points is not split.
const MIN_SPLIT_POINTS: usize = 8;

/// Builds the hierarchy of `settings.depth` levels over `vectors` (terms left empty).
pub(crate) fn build(vectors: &Array2<f32>, settings: &Settings) -> Result<Discovery, TopicsError> {
    let n = vectors.nrows();
    let mut out = Discovery { topics: Vec::new(), leaf_of: vec![0; n] };
    let all: Vec<usize> = (0..n).collect();
    split(vectors, settings, &mut out, all, settings.depth - 1, None)?;
    Ok(out)
}

/// Adds the topics that `members` splits into at `level` (children of `parent`), and below.
fn split(
    vectors: &Array2<f32>,
    settings: &Settings,
    out: &mut Discovery,
    members: Vec<usize>,
    level: usize,
    parent: Option<usize>,
) -> Result<(), TopicsError> {
    let top = parent.is_none();
    let max_k = if top { settings.max_top } else { settings.max_split };
    let seed = settings.seed ^ (out.topics.len() as u64).wrapping_mul(0x9E37_79B9);
    let groups = partition(vectors, &members, max_k, top, seed)?;
    for group in groups {
        let index = out.topics.len();
        out.topics.push(Topic { level, parent, members: group.clone(), terms: Vec::new() });
        if level == 0 {
            for &m in &group {
                out.leaf_of[m] = index;
            }
        } else {
            split(vectors, settings, out, group, level - 1, Some(index))?;
        }
    }
    Ok(())
}

/// Up to `size` of `members`, drawn at random (a partial Fisher-Yates shuffle, seeded).
fn sample(members: &[usize], size: usize, seed: u64) -> Vec<usize> {
    let mut pool = members.to_vec();
    if pool.len() <= size {
        return pool;
    }
    let mut state = seed;
    for i in 0..size {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let j = i + ((state >> 33) as usize) % (pool.len() - i);
        pool.swap(i, j);
    }
    pool.truncate(size);
    pool
}

/// The rows of `members`, as one array.
fn rows(vectors: &Array2<f32>, members: &[usize]) -> Array2<f32> {
    vectors.select(Axis(0), members)
}

/// Splits `members` into groups (largest first), or keeps them as one group when they
/// are too few or (unless `force`) show no structure.
fn partition(
    vectors: &Array2<f32>,
    members: &[usize],
    max_k: usize,
    force: bool,
    seed: u64,
) -> Result<Vec<Vec<usize>>, TopicsError> {
    let n = members.len();
    let max_k = max_k.min(n / 2);
    let min_points = if force { 4 } else { MIN_SPLIT_POINTS };
    if n < min_points || max_k < 2 {
        return Ok(vec![members.to_vec()]);
    }
    // A seeded random sample, on which each k is tried.
    let sample = sample(members, SAMPLE, seed);
    let data = rows(vectors, &sample);
    let distances = pairwise(&data);
    let mut best: Option<(f32, Array2<f32>)> = None;
    for k in 2..=max_k.min(sample.len() / 2) {
        let model = kmeans(&data, k, seed, None)?;
        let labels = model.predict(&data);
        let score = silhouette(&distances, labels.as_slice().unwrap_or(&[]), k);
        if best.as_ref().is_none_or(|(s, _)| score > *s + 1e-4) {
            best = Some((score, model.centroids().clone()));
        }
    }
    let Some((score, centroids)) = best else {
        return Ok(vec![members.to_vec()]);
    };
    if !force && score < MIN_SPLIT_SILHOUETTE {
        return Ok(vec![members.to_vec()]);
    }
    // Every member, from the sample's centroids.
    let all = rows(vectors, members);
    let k = centroids.nrows();
    let model = kmeans(&all, k, seed, Some(centroids))?;
    let labels = model.predict(&all);
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (&member, &label) in members.iter().zip(labels.iter()) {
        groups[label].push(member);
    }
    groups.retain(|g| !g.is_empty());
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a[0].cmp(&b[0])));
    Ok(groups)
}

/// A k-means model of `data`, from k-means++ (3 runs) or from given centroids.
fn kmeans(
    data: &Array2<f32>,
    k: usize,
    seed: u64,
    init: Option<Array2<f32>>,
) -> Result<KMeans<f32, linfa_nn::distance::L2Dist>, TopicsError> {
    let dataset = DatasetBase::from(data.clone());
    let rng = Xoshiro256Plus::seed_from_u64(seed);
    let params = KMeans::params_with_rng(k, rng).max_n_iterations(60).tolerance(1e-4);
    let params = match init {
        Some(centroids) => params.n_runs(1).init_method(KMeansInit::Precomputed(centroids)),
        None => params.n_runs(5),
    };
    params.fit(&dataset).map_err(|e| TopicsError::Clustering(e.to_string()))
}

/// The Euclidean distances between every two rows.
fn pairwise(data: &Array2<f32>) -> Array2<f32> {
    let n = data.nrows();
    let norms: Vec<f32> = data.rows().into_iter().map(|r| r.dot(&r)).collect();
    let gram = data.dot(&data.t());
    Array2::from_shape_fn((n, n), |(i, j)| {
        (norms[i] + norms[j] - 2.0 * gram[[i, j]]).max(0.0).sqrt()
    })
}

/// The mean silhouette of a labelling, from its distance matrix.
fn silhouette(distances: &Array2<f32>, labels: &[usize], k: usize) -> f32 {
    let n = labels.len();
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l] += 1;
    }
    let mut total = 0.0;
    let mut sums = vec![0.0f32; k];
    for i in 0..n {
        sums.iter_mut().for_each(|s| *s = 0.0);
        for j in 0..n {
            sums[labels[j]] += distances[[i, j]];
        }
        let own = labels[i];
        if sizes[own] <= 1 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f32;
        let b = (0..k)
            .filter(|&c| c != own && sizes[c] > 0)
            .map(|c| sums[c] / sizes[c] as f32)
            .fold(f32::INFINITY, f32::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / n.max(1) as f32
}

/// `n` choose 2.
fn pairs(n: u64) -> f64 {
    (n * n.saturating_sub(1)) as f64 / 2.0
}

/// The adjusted Rand index of two labellings of the same items: 1 when they group the
/// items alike, about 0 for a random grouping.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    assert_eq!(a.len(), b.len(), "both labellings must cover the same items");
    let mut cells: HashMap<(usize, usize), u64> = HashMap::new();
    let mut rows: HashMap<usize, u64> = HashMap::new();
    let mut cols: HashMap<usize, u64> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *cells.entry((x, y)).or_default() += 1;
        *rows.entry(x).or_default() += 1;
        *cols.entry(y).or_default() += 1;
    }
    let index: f64 = cells.values().map(|&c| pairs(c)).sum();
    let sum_a: f64 = rows.values().map(|&c| pairs(c)).sum();
    let sum_b: f64 = cols.values().map(|&c| pairs(c)).sum();
    let expected = sum_a * sum_b / pairs(a.len() as u64).max(1.0);
    let max = (sum_a + sum_b) / 2.0;
    if (max - expected).abs() < f64::EPSILON {
        return 1.0;
    }
    (index - expected) / (max - expected)
}
