//! Lyrics embeddings with a BERT-family encoder: WordPiece tokens in windows of at most 512
//! (overlapping windows for longer lyrics, averaged, never silently cut), attention-masked,
//! pooled (masked mean or [CLS]) and L2-normalised.

use super::l2_normalize;
use super::resolve::ModelFiles;
use crate::config::Pooling;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use std::path::Path;
use tokenizers::Tokenizer;

/// A loaded text embedder.
pub struct TextEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    pooling: Pooling,
    max_tokens: usize,
    overlap: usize,
    cls: u32,
    sep: u32,
    pad: u32,
    dim: usize,
    /// Token windows per forward pass.
    batch: usize,
    /// The model's identity, stored with every embedding.
    pub model_id: String,
    /// Put before every text embedded (multilingual-e5 asks for "query: ").
    prefix: String,
}

/// Padded tokens a forward pass may hold per window of its batch size: with the CPU's batch of 8,
/// 1,024 tokens, so a whole song's 512-token windows go through two at a time and its short
/// segments eight at a time.
const TOKENS_PER_SLOT: usize = 128;

/// The windows' indices grouped into forward passes: longest first, so that each pass is padded
/// to about its own windows' length (a pass is as wide as its longest window), at most `batch`
/// windows and `batch` × [`TOKENS_PER_SLOT`] padded tokens each (a longer window goes alone).
pub fn batches_by_length(windows: &[Vec<u32>], batch: usize) -> Vec<Vec<usize>> {
    let budget = batch * TOKENS_PER_SLOT;
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&w| std::cmp::Reverse(windows[w].len()));
    let mut out: Vec<Vec<usize>> = Vec::new();
    for w in order {
        match out.last_mut() {
            // The first window of a pass is its longest: the pass is padded to its length.
            Some(pass) if pass.len() < batch && (pass.len() + 1) * windows[pass[0]].len() <= budget => pass.push(w),
            _ => out.push(vec![w]),
        }
    }
    out
}

/// Windows of token ids (each with [CLS] … [SEP]) covering a whole text.
pub fn windows(content: &[u32], max_tokens: usize, overlap: usize, cls: u32, sep: u32) -> Vec<Vec<u32>> {
    let body = max_tokens - 2;
    let step = body - overlap;
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + body).min(content.len());
        let mut w = Vec::with_capacity(end - start + 2);
        w.push(cls);
        w.extend_from_slice(&content[start..end]);
        w.push(sep);
        out.push(w);
        if end == content.len() {
            return out;
        }
        start += step;
    }
}

impl TextEmbedder {
    /// Loads a BERT-family model from resolved files (`config.json`, `tokenizer.json`,
    /// `model.safetensors`).
    pub fn load(
        files: &ModelFiles,
        device: &Device,
        pooling: Pooling,
        max_tokens: usize,
        overlap: usize,
    ) -> Result<Self> {
        let config_path = files.file("config.json")?;
        let bad = |path: &Path, e: &dyn std::fmt::Display| Error::BadModelFile {
            path: path.to_path_buf(),
            what: "text model",
            reason: e.to_string(),
            expected: "is it a BERT-family checkpoint?",
        };
        let text = std::fs::read_to_string(config_path).map_err(|e| Error::io(config_path, e))?;
        let config: BertConfig = serde_json::from_str(&text).map_err(|e| bad(config_path, &e))?;
        let tok_path = files.file("tokenizer.json")?;
        let mut tokenizer = Tokenizer::from_file(tok_path).map_err(|e| bad(tok_path, &e))?;
        // Windows, padding and truncation are ours; the file's own settings (e.g. 128) must not apply.
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| bad(tok_path, &e))?;
        // BERT's WordPiece names, or XLM-R's SentencePiece ones (multilingual-e5, the multilingual
        // MiniLM): the same roles.
        let id = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|t| tokenizer.token_to_id(t))
                .ok_or_else(|| bad(tok_path, &format!("no {} token (nor {})", names[0], names[1])))
        };
        let (cls, sep, pad) = (id(["[CLS]", "<s>"])?, id(["[SEP]", "</s>"])?, id(["[PAD]", "<pad>"])?);
        let weights = files.file("model.safetensors")?;
        // SAFETY: the weights file is memory-mapped read-only; reelmatch never writes it while loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, device) }
            .map_err(|e| bad(weights, &e))?;
        let model = BertModel::load(vb.clone(), &config)
            .or_else(|_| BertModel::load(vb.pp("bert"), &config))
            .map_err(|e| bad(weights, &e))?;
        let max_tokens = max_tokens.min(config.max_position_embeddings);
        Ok(TextEmbedder {
            model,
            tokenizer,
            device: device.clone(),
            pooling,
            max_tokens,
            overlap,
            cls,
            sep,
            pad,
            dim: config.hidden_size,
            batch: if device.is_cuda() { 64 } else { 8 },
            model_id: files.id.clone(),
            prefix: String::new(),
        })
    }

    /// Puts `prefix` before every text it embeds (`[models.text] prefix`); the model's identity
    /// says so, since the vectors differ.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        if !prefix.is_empty() {
            self.model_id = format!("{} (prefix {prefix:?})", self.model_id);
            self.prefix = prefix.to_string();
        }
        self
    }

    /// The embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Sets how many token windows one forward pass takes at most (8 unless set; at least 1):
    /// long windows go fewer at a time (see [`batches_by_length`]).
    pub fn set_batch(&mut self, windows: usize) {
        self.batch = windows.max(1);
    }

    /// Embeds one text.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>> {
        Ok(self.embed_batch(&[text])?.remove(0))
    }

    /// Embeds several texts; each is L2-normalised. Long texts are embedded in overlapping
    /// windows whose embeddings are averaged.
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut all_windows = Vec::new();
        let mut owner = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let text = format!("{}{text}", self.prefix);
            let enc = self.tokenizer.encode(text, false).map_err(|e| Error::compute("tokenising text", e))?;
            for w in windows(enc.get_ids(), self.max_tokens, self.overlap, self.cls, self.sep) {
                all_windows.push(w);
                owner.push(i);
            }
        }
        let mut sums = vec![vec![0f32; self.dim]; texts.len()];
        let mut counts = vec![0usize; texts.len()];
        for chunk in batches_by_length(&all_windows, self.batch) {
            let batch: Vec<Vec<u32>> = chunk.iter().map(|&w| std::mem::take(&mut all_windows[w])).collect();
            let pooled = self.forward(&batch).map_err(|e| Error::compute("the text model", e))?;
            for (vec, w) in pooled.into_iter().zip(chunk) {
                let o = owner[w];
                sums[o].iter_mut().zip(&vec).for_each(|(s, v)| *s += v);
                counts[o] += 1;
            }
        }
        for (s, c) in sums.iter_mut().zip(counts) {
            s.iter_mut().for_each(|x| *x /= c.max(1) as f32);
            l2_normalize(s);
        }
        Ok(sums)
    }

    /// Runs one padded batch of windows; returns one L2-normalised pooled vector per window.
    fn forward(&self, batch: &[Vec<u32>]) -> candle_core::Result<Vec<Vec<f32>>> {
        let len = batch.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * len);
        let mut mask = Vec::with_capacity(batch.len() * len);
        for w in batch {
            ids.extend(w.iter().copied().chain(std::iter::repeat_n(self.pad, len - w.len())));
            mask.extend(std::iter::repeat_n(1u32, w.len()).chain(std::iter::repeat_n(0, len - w.len())));
        }
        let ids = Tensor::from_vec(ids, (batch.len(), len), &self.device)?;
        let mask = Tensor::from_vec(mask, (batch.len(), len), &self.device)?;
        let types = ids.zeros_like()?;
        let states = self.model.forward(&ids, &types, Some(&mask))?;
        let pooled = match self.pooling {
            Pooling::Cls => states.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Mean => {
                let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let summed = states.broadcast_mul(&m)?.sum(1)?;
                summed.broadcast_div(&m.sum(1)?)?
            }
        };
        let norm = pooled.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        pooled.broadcast_div(&norm)?.to_vec2()
    }
}

#[cfg(test)]
mod tests {
    use super::{batches_by_length, windows};

    #[test]
    fn passes_group_windows_of_like_length_and_cover_each_once() {
        let lens = [20, 512, 7, 300, 512, 30, 25, 22, 21, 19, 18, 17, 16, 15];
        let w: Vec<Vec<u32>> = lens.iter().map(|&n| vec![0; n]).collect();
        let passes = batches_by_length(&w, 8);
        let mut seen: Vec<usize> = passes.concat();
        seen.sort();
        assert_eq!(seen, (0..lens.len()).collect::<Vec<_>>(), "every window once");
        assert_eq!(passes[0], vec![1, 4], "the two 512-token windows together (1024 tokens)");
        assert_eq!(passes[1], vec![3, 5, 6], "a 300-token window and two short ones: a fourth would pass 1024");
        assert_eq!(passes[2].len(), 8, "then eight short ones");
        assert_eq!(passes.len(), 4);
        assert!(passes.iter().all(|p| p.len() <= 8));
        assert!(passes.iter().all(|p| p.len() == 1 || p.len() * lens[p[0]] <= 1024));
        assert!(passes.iter().all(|p| p.iter().all(|&i| lens[i] <= lens[p[0]])), "longest first");
    }

    #[test]
    fn short_text_is_one_window_long_text_overlaps_and_covers_everything() {
        let short: Vec<u32> = (10..20).collect();
        assert_eq!(windows(&short, 512, 64, 1, 2), vec![[vec![1], short.clone(), vec![2]].concat()]);
        let long: Vec<u32> = (0..1000).collect();
        let w = windows(&long, 512, 64, 1_000_001, 1_000_002);
        assert_eq!(w.len(), 3);
        assert!(w.iter().all(|w| w.len() <= 512 && w[0] == 1_000_001 && *w.last().unwrap() == 1_000_002));
        let covered: std::collections::BTreeSet<u32> = w.iter().flat_map(|w| w[1..w.len() - 1].to_vec()).collect();
        assert_eq!(covered.len(), 1000, "nothing cut");
        assert_eq!(w[1][1], 510 - 64, "windows overlap by 64 tokens");
    }
}
