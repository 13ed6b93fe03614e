//! Text vectors: the built-in local embedding, or a provider's embeddings checked.
//!
//! The local method weighs each document's terms by TF-IDF (`1 + ln(count)` times the
//! smoothed IDF), then projects the sparse vector to `dims` dimensions with a sparse random
//! projection (each term's row is +1, −1 or 0 with probabilities 1/6, 1/6, 2/3, drawn from a
//! hash of the seed and the term), which keeps distances between documents within a small
//! factor (Achlioptas, 2003). Rows are scaled to unit length, so the Euclidean distance
//! k-means uses orders documents as cosine similarity does.

use ndarray::Array2;

use crate::TopicsError;
use crate::terms::Corpus;

/// SplitMix64: a fast, well-mixed hash of one 64-bit value.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The projection row of a term: `dims` entries in {−1, 0, 1}.
fn projection(term: &str, dims: usize, seed: u64) -> Vec<f32> {
    let mut h = seed;
    for byte in term.bytes() {
        h = mix(h ^ u64::from(byte));
    }
    (0..dims)
        .map(|d| match mix(h ^ (d as u64).wrapping_mul(0x1000_0000_01B3)) % 6 {
            0 => 1.0,
            1 => -1.0,
            _ => 0.0,
        })
        .collect()
}

/// Scales every row of `m` to unit length (zero rows stay zero).
fn normalize(m: &mut Array2<f32>) {
    for mut row in m.rows_mut() {
        let norm = row.dot(&row).sqrt();
        if norm > 0.0 {
            row /= norm;
        }
    }
}

/// The local embedding of a corpus: one unit row of `dims` values per document. Terms of
/// one document only are left out (they cannot make two documents alike).
pub fn local(corpus: &Corpus, dims: usize, seed: u64) -> Array2<f32> {
    let rows: Vec<Option<Vec<f32>>> = (0..corpus.vocabulary.len())
        .map(|term| {
            (corpus.df[term] >= 2).then(|| projection(&corpus.vocabulary[term], dims, seed))
        })
        .collect();
    let mut out = Array2::<f32>::zeros((corpus.documents.len(), dims));
    for (i, document) in corpus.documents.iter().enumerate() {
        let mut row = out.row_mut(i);
        let target = row.as_slice_mut().expect("rows of a standard array are contiguous");
        for &(term, count) in document {
            let Some(projected) = &rows[term as usize] else { continue };
            let weight = (1.0 + (count as f32).ln()) * corpus.idf(term);
            for (value, p) in target.iter_mut().zip(projected) {
                *value += weight * p;
            }
        }
    }
    normalize(&mut out);
    out
}

/// A provider's embeddings as unit rows, after checking there is one per text and they all
/// have the same, non-zero length.
pub fn from_rows(rows: Vec<Vec<f32>>, texts: usize) -> Result<Array2<f32>, TopicsError> {
    let dims = rows.first().map_or(0, Vec::len);
    if rows.len() != texts || dims == 0 || rows.iter().any(|r| r.len() != dims) {
        return Err(TopicsError::Embeddings(format!(
            "{} texts, {} embeddings of lengths {:?}",
            texts,
            rows.len(),
            rows.iter().map(Vec::len).take(5).collect::<Vec<_>>()
        )));
    }
    let flat: Vec<f32> = rows.into_iter().flatten().collect();
    let mut out = Array2::from_shape_vec((texts, dims), flat)
        .map_err(|e| TopicsError::Embeddings(e.to_string()))?;
    normalize(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alike_texts_are_close_and_unlike_ones_far() {
        let texts: Vec<String> =
            ["refund my order", "refund the order", "weather in paris", "paris weather", "x"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        let vectors = local(&Corpus::new(&texts), 64, 1);
        let cos = |a: usize, b: usize| vectors.row(a).dot(&vectors.row(b));
        assert!(cos(0, 1) > 0.99, "{}", cos(0, 1));
        assert!(cos(0, 2).abs() < 0.5, "{}", cos(0, 2));
        assert_eq!(vectors.row(4).dot(&vectors.row(4)), 0.0);
        assert_eq!(local(&Corpus::new(&texts), 64, 1), vectors, "seeded, so repeatable");
    }

    #[test]
    fn provider_rows_are_checked() {
        assert!(from_rows(vec![vec![1.0, 0.0]], 2).is_err());
        assert!(from_rows(vec![vec![1.0], vec![1.0, 2.0]], 2).is_err());
        let ok = from_rows(vec![vec![3.0, 4.0]], 1).unwrap();
        assert_eq!(ok.row(0).to_vec(), vec![0.6, 0.8]);
    }
}
