//! ResNet-50 feature extraction tuned for the CPU. Weights load through Candle (torchvision v1.5
//! names, the same file candle-transformers' ResNet-50 reads); at load every batch norm is folded
//! into the convolution before it (`w·γ/σ`, `β − μ·γ/σ`). Activations are kept channels-last as
//! one `[batch·height·width, channels]` matrix, so a 1×1 convolution is a matrix product, a
//! stride-1 3×3 one Winograd's F(4×4, 3×3) (`ml::winograd`: 36 products per 4×4 outputs instead
//! of 144), and any other an im2col gather plus a product, all on weights packed at load for
//! `ml::packed`'s kernel (AVX2 CPUs) or on `gemm` (Candle's own CPU matrix engine) elsewhere.
//! Each core takes a block of output rows at a time and, while the block is in its cache, writes
//! bias (+ residual), adds the product on and applies ReLU (in the kernel's last store). With
//! `[models.image] precision = "int8"` every convolution but the stem is an im2col (or direct)
//! product in 8 bits instead (`ml::int8`, bias, residual and ReLU in the kernel's last store):
//! Winograd's included with AVX-512 VNNI, not with AVX2 alone. Then every block's output but the
//! last stays in 8 bits, a byte per channel and a scale per pixel, quantised a few rows at a time
//! while in cache: the next block's 1×1 convolutions read those bytes as they would have quantised
//! them, and its residual is read from them too. Inside a block the 3×3 convolution's output is
//! kept in 8 bits for the 1×1 one after it, and with VNNI the first 1×1 one's too: the 3×3
//! convolution then reads its input pixels tap by tap, each at its own scale (`int8::taps_into`),
//! and each block's downsampling convolution is computed beside the block's last 1×1 one, as a
//! second product of its tiles (`int8::Shortcut::Product`), never stored. The stem runs in 16-bit
//! integers on the image's resized bytes (`resnet::stem`), where the CPU has AVX2, and pools its
//! output a band of rows at a time as it goes, in 8 bits for the first block where that reads
//! bytes. Before any weight goes to 8 bits, each channel between the stem and the first block and
//! between a block's convolutions is balanced between its producer and its readers
//! (`resnet::equalise`): the f32 network computes the same, the 8-bit steps fit it better.
//!
//! Why: candle's stock path spends much of its time outside the arithmetic: per-call NCHW→NHWC
//! copies and kernel re-layouts in every convolution, and four single-threaded element-wise passes
//! per batch norm plus one for each ReLU and residual add (`cargo bench --bench models` compares).

mod equalise;
mod pool;
mod stem;

use super::int8::{self, Bytes, Kernel, PackedWeights, Part, Rows};
use super::packed::{PackedMatrix, Then};
use super::winograd::Winograd3x3;
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use pool::max_pool_3x3_s2;
use rayon::prelude::*;
use std::sync::Mutex;
pub use stem::Pixels;

/// Activation and patch buffers reused across layers and batches: a fresh multi-megabyte
/// allocation costs a page fault per 4 KiB, which took a sixth of the forward pass.
struct Buffers<T>(Mutex<Vec<Vec<T>>>);

impl<T> Default for Buffers<T> {
    fn default() -> Self {
        Buffers(Mutex::default())
    }
}

impl<T: Copy + Default> Buffers<T> {
    /// A buffer of `len` elements with unspecified contents: of the free ones with room for it
    /// but less than twice as large, one already that long if any (lengthening writes zeros over
    /// the new part), the smallest; else a new one. Requests for a batch's per-pixel scales and
    /// for smaller activations had shortened buffers of larger ones, which later requests then
    /// refilled with zeros: 1.4–1.8 % of the 8-bit forward pass, 0.2 % since (peak resident
    /// memory unchanged at batch 8).
    fn take(&self, len: usize) -> Vec<T> {
        let mut free = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let room = |v: &Vec<T>| v.capacity() >= len && v.capacity() / 2 < len;
        let fit =
            (0..free.len()).filter(|&i| room(&free[i])).min_by_key(|&i| (free[i].len() < len, free[i].capacity()));
        let mut v = fit.map(|i| free.swap_remove(i)).unwrap_or_default();
        drop(free);
        v.truncate(len);
        v.resize(len, T::default());
        v
    }

    /// Keeps `v` for a later `take`; an unallocated one (the empty `data` of 8-bit activations)
    /// is dropped, or the free list would grow by one each time.
    fn give(&self, v: Vec<T>) {
        if v.capacity() > 0 {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(v);
        }
    }
}

/// The f32 and byte buffers.
#[derive(Default)]
struct Pools {
    f32: Buffers<f32>,
    bytes: Buffers<u8>,
    /// The 16-bit stem's padded images (`resnet::stem`).
    shorts: Buffers<i16>,
}

impl Pools {
    /// Gives back an activation's buffers.
    fn give(&self, act: Act) {
        self.f32.give(act.data);
        if let Some(q) = act.bytes {
            self.bytes.give(q.bytes);
            self.f32.give(q.scales);
        }
    }
}

/// One convolution with its batch norm folded in: weights as a `[k·k·c_in, c_out]` matrix.
struct Conv {
    weight: PackedMatrix,
    bias: Vec<f32>,
    k: usize,
    stride: usize,
    pad: usize,
    c_in: usize,
    c_out: usize,
    /// The same kernel in the Winograd domain, for a 3×3 convolution with stride 1 and padding 1.
    winograd: Option<Winograd3x3>,
    /// The weights quantised to 8 bits, when the product runs in 8 bits (see [`ResNet50::quantise`]).
    int8: Option<PackedWeights>,
    /// The kernel in the Winograd domain in 8 bits, for a stride-1 3×3 convolution on 256
    /// channels or more (the 14×14 and 7×7 stages) with VNNI (see [`int8::Winograd8`]).
    winograd8: Option<int8::Winograd8>,
    /// How far each output channel reaches before ReLU as its batch norm describes it
    /// (`β + 3|γ|`); empty where no batch norm was folded in.
    reach: Vec<f32>,
}

/// Channels-last activations: `data` is `[b·h·w, c]`, or empty where they are kept in 8 bits in
/// `bytes` instead.
struct Act {
    data: Vec<f32>,
    bytes: Option<Bytes8>,
    b: usize,
    h: usize,
    w: usize,
    c: usize,
}

/// What a convolution adds to its output before ReLU: activations of the output's shape, or (in
/// 8 bits, VNNI) a residual block's downsampling convolution of the block's input `x`, computed
/// beside it tile by tile and never stored, with `bias` the two convolutions' biases summed.
#[derive(Clone, Copy)]
enum Shortcut<'a> {
    Act(&'a Act),
    Conv { conv: &'a Conv, x: &'a Act, bias: &'a [f32] },
}

impl<'a> Shortcut<'a> {
    /// The activations, where only activations can be added (the f32 paths).
    fn act(shortcut: Option<Shortcut<'a>>) -> Option<&'a Act> {
        shortcut.map(|s| match s {
            Shortcut::Act(act) => act,
            Shortcut::Conv { .. } => unreachable!("a downsampling convolution is computed beside 8-bit products only"),
        })
    }
}

/// Where a block of output rows goes: f32 rows, or bytes and a scale per row.
enum Out<'a> {
    F32(&'a mut [f32]),
    Bytes(&'a mut [u8], &'a mut [f32]),
}

impl Out<'_> {
    /// The rows, each `width` wide.
    fn rows(&self, width: usize) -> usize {
        match self {
            Out::F32(v) => v.len() / width,
            Out::Bytes(_, scales) => scales.len(),
        }
    }
}

/// Activations in 8 bits for the 8-bit kernel: `[b·h·w, c]` bytes and a scale per pixel.
struct Bytes8 {
    bytes: Vec<u8>,
    scales: Vec<f32>,
}

impl Act {
    /// Rows `first…first + n` (each `width` wide) as a product reads them.
    fn rows(&self, first: usize, n: usize, width: usize) -> Rows<'_> {
        match &self.bytes {
            Some(q) => Rows::Bytes(Bytes {
                bytes: &q.bytes[first * width..(first + n) * width],
                scales: &q.scales[first..first + n],
            }),
            None => Rows::F32(&self.data[first * width..(first + n) * width]),
        }
    }
}

impl Conv {
    /// Loads `conv` (`[c_out, c_in, k, k]`, no bias) and folds the batch norm `bn` into it.
    fn load(
        conv: VarBuilder,
        bn: VarBuilder,
        (c_in, c_out, k): (usize, usize, usize),
        stride: usize,
        pad: usize,
    ) -> candle_core::Result<Conv> {
        let w = conv.get((c_out, c_in, k, k), "weight")?;
        let gamma = bn.get(c_out, "weight")?;
        let beta = bn.get(c_out, "bias")?;
        let reach = (&beta + gamma.abs()?.affine(3.0, 0.0)?)?.to_dtype(DType::F32)?.to_vec1()?;
        let mean = bn.get(c_out, "running_mean")?;
        let var = bn.get(c_out, "running_var")?;
        let scale = (gamma / (var + 1e-5)?.sqrt()?)?;
        let bias = (beta - mean.mul(&scale)?)?;
        // [c_out, c_in, kh, kw] → [kh, kw, c_in, c_out]: the im2col column order, row-major.
        let weight = w.broadcast_mul(&scale.reshape((c_out, 1, 1, 1))?)?.permute((2, 3, 1, 0))?;
        let mut conv = Conv::new(
            weight.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?,
            bias.to_dtype(DType::F32)?.to_vec1()?,
            (k, stride, pad),
        );
        conv.reach = reach;
        Ok(conv)
    }

    /// A convolution from its folded weight (`[kh, kw, c_in, c_out]`) and bias.
    fn new(weight: Vec<f32>, bias: Vec<f32>, (k, stride, pad): (usize, usize, usize)) -> Conv {
        let c_out = bias.len();
        let c_in = weight.len() / (k * k * c_out);
        let winograd = (k == 3 && stride == 1 && pad == 1).then(|| Winograd3x3::from_im2col(&weight, c_in, c_out));
        let weight = PackedMatrix::new(weight, k * k * c_in, c_out);
        Conv { weight, bias, k, stride, pad, c_in, c_out, winograd, int8: None, winograd8: None, reach: Vec::new() }
    }

    /// Runs the product in 8 bits from now on with `kernel`, if its shape allows. A stride-1 3×3
    /// convolution leaves Winograd for an im2col product with VNNI (8 bits at 144 products per
    /// 4×4 outputs measured 20 % faster than f32 Winograd at 36), and keeps Winograd with AVX2
    /// alone (twice an FMA's rate does not pay for four times the products).
    fn quantise(&mut self, kernel: Kernel) {
        let width = self.k * self.k * self.c_in;
        if int8::fits(width, self.c_out) && (kernel == Kernel::Vnni || self.winograd.is_none()) {
            self.winograd = None;
            let weight = self.weight.row_major();
            self.int8 = Some(PackedWeights::new(&weight, width, self.c_out, kernel));
            let small_maps = self.k == 3 && self.stride == 1 && self.pad == 1 && self.c_in >= 256;
            if kernel == Kernel::Vnni && small_maps {
                self.winograd8 = int8::Winograd8::new(&weight, self.c_in, self.c_out);
            }
        }
    }

    /// `relu(conv(x) + bias + residual)`; the residual, when given, has the output's shape. With
    /// `bytes_out` (8-bit products only) the output is kept in 8 bits: each block of rows is
    /// quantised while in cache, so the f32 rows never reach memory, for the next block's 1×1
    /// convolutions and residual to read a quarter of the bytes.
    fn forward(&self, x: &Act, relu: bool, residual: Option<Shortcut>, bytes_out: bool, pools: &Pools) -> Act {
        debug_assert_eq!(x.c, self.c_in);
        let oh = (x.h + 2 * self.pad - self.k) / self.stride + 1;
        let ow = (x.w + 2 * self.pad - self.k) / self.stride + 1;
        let rows = x.b * oh * ow;
        assert!(!bytes_out || self.int8.is_some(), "8-bit products keep their outputs in 8 bits");
        if x.bytes.is_some() {
            let reads_bytes = self.int8.is_some() && self.k == 1 && self.pad == 0 || self.reads_taps();
            assert!(reads_bytes, "8-bit activations feed 8-bit 1×1 products and tap products");
        }
        if let (true, Some(wino), Some(q)) = (bytes_out, &self.winograd8, &x.bytes) {
            assert!(relu, "8-bit Winograd keeps post-ReLU outputs");
            // An image a task: its bands of tiles one after another.
            let (pixels, c, dims) = (x.h * x.w, x.c, (x.h, x.w));
            let (mut bytes, mut scales) = (pools.bytes.take(rows * self.c_out), pools.f32.take(rows));
            bytes.par_chunks_mut(pixels * self.c_out).zip(scales.par_chunks_mut(pixels)).enumerate().for_each(
                |(i, out)| {
                    let image = Bytes {
                        bytes: &q.bytes[i * pixels * c..(i + 1) * pixels * c],
                        scales: &q.scales[i * pixels..(i + 1) * pixels],
                    };
                    WINOGRAD.with_borrow_mut(|room| wino.image(image, dims, &self.bias, out, room));
                },
            );
            let bytes = Some(Bytes8 { bytes, scales });
            return Act { data: Vec::new(), bytes, b: x.b, h: oh, w: ow, c: self.c_out };
        }
        if bytes_out {
            let block = self.rows_per_block(rows).unwrap_or_else(|| rows.div_ceil(rayon::current_num_threads()));
            let (mut bytes, mut scales) = (pools.bytes.take(rows * self.c_out), pools.f32.take(rows));
            bytes.par_chunks_mut(block * self.c_out).zip(scales.par_chunks_mut(block)).enumerate().for_each(
                |(i, (bytes, scales))| {
                    PATCHES.with_borrow_mut(|patches| {
                        self.block(x, (oh, ow), i * block, Out::Bytes(bytes, scales), (residual, relu), patches)
                    });
                },
            );
            let bytes = Some(Bytes8 { bytes, scales });
            return Act { data: Vec::new(), bytes, b: x.b, h: oh, w: ow, c: self.c_out };
        }
        let mut out = pools.f32.take(rows * self.c_out);
        match &self.winograd {
            Some(wino) => wino.convolve(
                &x.data,
                (x.b, x.h, x.w),
                &mut out,
                |dst, first| self.start(dst, first, Shortcut::act(residual)),
                |dst| {
                    if relu {
                        relu_in_place(dst)
                    }
                },
            ),
            None => match self
                .rows_per_block(rows)
                .or_else(|| self.int8.as_ref().map(|_| rows.div_ceil(rayon::current_num_threads())))
            {
                Some(block) => {
                    out.par_chunks_mut(block * self.c_out).enumerate().for_each(|(i, dst)| {
                        PATCHES.with_borrow_mut(|patches| {
                            self.block(x, (oh, ow), i * block, Out::F32(dst), (residual, relu), patches)
                        });
                    });
                }
                None => self.whole(x, (oh, ow), &mut out, Shortcut::act(residual), relu, &pools.f32),
            },
        }
        Act { data: out, bytes: None, b: x.b, h: oh, w: ow, c: self.c_out }
    }

    /// Output rows per task of the im2col path, if `rows` make enough blocks to share out.
    ///
    /// A block's patches and outputs stay in a core's second-level cache (2¹⁷ floats, 512 KiB on
    /// the Zen 3 machine) from the gather through the product to the epilogue, which made the
    /// 1×1 convolutions on wide activations two to three times faster than one whole-matrix
    /// product followed by separate bias, residual and ReLU passes over memory. The blocks come
    /// in a multiple of the cores' count.
    fn rows_per_block(&self, rows: usize) -> Option<usize> {
        let most = ((1 << 17) / (self.k * self.k * self.c_in + self.c_out)).clamp(64, 512);
        let threads = rayon::current_num_threads();
        let (blocks, per_block) = super::equal_parts(rows, most, threads);
        (blocks >= 2 * threads).then_some(per_block)
    }

    /// Whether the convolution reads 8-bit input pixels tap by tap (`int8::taps_into`): a 3×3 one
    /// in 8 bits on the VNNI kernel.
    fn reads_taps(&self) -> bool {
        self.k == 3 && self.int8.as_ref().is_some_and(|w| w.kernel() == Kernel::Vnni)
    }

    /// Whether the product reads `x`'s rows as they are (a 1×1 convolution with stride 1).
    fn reads_rows_directly(&self) -> bool {
        self.k == 1 && self.stride == 1 && self.pad == 0
    }

    /// The block of output rows starting at `first`: the product of its patch rows (or of `x`'s
    /// rows themselves for a 1×1 convolution with stride 1) plus bias (+ residual), then ReLU if
    /// asked; in 8 bits, all in the kernel's last store.
    fn block(
        &self,
        x: &Act,
        (oh, ow): (usize, usize),
        first: usize,
        dst: Out,
        (residual, relu): (Option<Shortcut>, bool),
        patches: &mut Vec<f32>,
    ) {
        let n = dst.rows(self.c_out);
        let width = self.k * self.k * self.c_in;
        if self.reads_rows_directly() {
            self.multiply(dst, x.rows(first, n, width), (first, (oh, ow)), (residual, relu));
        } else if let (Some(w), Some(q), true) = (&self.int8, &x.bytes, self.reads_taps()) {
            assert!(residual.is_none(), "tap products take no residual");
            assert!(x.b * x.h * x.w < int8::OUTSIDE as usize, "a tap's pixel index fits 32 bits");
            TAPS.with_borrow_mut(|taps| {
                let taps = self.taps(x, (oh, ow), (first, n), taps);
                let pixels = Bytes { bytes: &q.bytes, scales: &q.scales };
                let taps = int8::Taps { pixels, c: x.c, taps, per_row: self.k * self.k };
                let then = int8::Epilogue { bias: &self.bias, residual: None, relu };
                match dst {
                    Out::F32(dst) => int8::taps_into(dst, taps, w, then),
                    Out::Bytes(bytes, scales) => {
                        SCRATCH.with_borrow_mut(|scratch| int8::taps_into_bytes(bytes, scales, taps, w, then, scratch))
                    }
                }
            });
        } else if let (Some(w), None) = (&self.int8, &x.bytes) {
            // An 8-bit product of f32 patches: each patch row quantised straight from its runs
            // of input pixels, so no f32 patch is written (a copy of each, a `memmove` of 4.4 %
            // of the samples, had been), nor the block's f32 patches (up to 1.2 MB).
            GATHERED.with_borrow_mut(|(bytes, scales)| {
                let (bytes, scales) = (super::reuse(bytes, n * width), super::reuse(scales, n));
                let mut parts = Vec::with_capacity(3 * self.k);
                for (j, (row, scale)) in bytes.chunks_exact_mut(width).zip(scales.iter_mut()).enumerate() {
                    parts.clear();
                    self.runs(x, (oh, ow), first + j, |part| parts.push(part));
                    *scale = w.kernel().quantise_parts(&parts, row);
                }
                self.multiply(dst, Rows::Bytes(Bytes { bytes, scales }), (first, (oh, ow)), (residual, relu));
            });
        } else if x.bytes.is_none() {
            let patches = super::reuse(patches, n * width);
            self.gather(x, (oh, ow), first, patches);
            self.multiply(dst, Rows::F32(patches), (first, (oh, ow)), (residual, relu));
        } else {
            // A 1×1 convolution with a stride, on 8-bit activations: its patches are whole pixels.
            GATHERED.with_borrow_mut(|(bytes, scales)| {
                self.gather_bytes(x, (oh, ow), first, n, (bytes, scales));
                self.multiply(dst, Rows::Bytes(Bytes { bytes, scales }), (first, (oh, ow)), (residual, relu));
            });
        }
    }

    /// `dst = relu?(lhs · weights + bias + residual's rows from `first`)`, for output rows
    /// `first…` of an `oh`×`ow` output.
    fn multiply(
        &self,
        dst: Out,
        lhs: Rows,
        (first, dims): (usize, (usize, usize)),
        (residual, relu): (Option<Shortcut>, bool),
    ) {
        let n = dst.rows(self.c_out);
        match (&self.int8, lhs, dst) {
            (Some(w), lhs, dst) => {
                let run = |residual: Option<int8::Shortcut<'_>>, bias: &[f32]| {
                    let then = int8::Epilogue { bias, residual, relu };
                    SCRATCH.with_borrow_mut(|scratch| match dst {
                        Out::F32(dst) => int8::matmul_into(dst, lhs, w, then, scratch),
                        Out::Bytes(bytes, scales) => int8::matmul_into_bytes(bytes, scales, lhs, w, then, scratch),
                    })
                };
                match residual {
                    None => run(None, &self.bias),
                    Some(Shortcut::Act(res)) => {
                        run(Some(int8::Shortcut::Rows(res.rows(first, n, self.c_out))), &self.bias)
                    }
                    Some(Shortcut::Conv { conv, x, bias }) => {
                        let w = conv.int8.as_ref().expect("a downsampling convolution computed beside runs in 8 bits");
                        conv.input_bytes(x, dims, (first, n), |lhs| run(Some(int8::Shortcut::Product { lhs, w }), bias))
                    }
                }
            }
            (None, Rows::F32(lhs), Out::F32(dst)) => {
                self.start(dst, first, Shortcut::act(residual));
                self.weight.product(dst, lhs, Then { accumulate: true, relu })
            }
            _ => unreachable!("8-bit activations feed 8-bit products, which alone keep 8-bit outputs (see forward)"),
        }
    }

    /// The 8-bit input rows of output rows `first…first + n` of a 1×1 convolution on 8-bit
    /// activations `x`, handed to `then`: `x`'s own rows, or the pixels a stride picks.
    fn input_bytes<R>(
        &self,
        x: &Act,
        dims: (usize, usize),
        (first, n): (usize, usize),
        then: impl FnOnce(Bytes) -> R,
    ) -> R {
        assert!(self.k == 1 && self.pad == 0, "1×1 convolutions read whole pixels");
        if self.stride == 1 {
            match x.rows(first, n, self.c_in) {
                Rows::Bytes(b) => then(b),
                Rows::F32(_) => unreachable!("the input is kept in 8 bits"),
            }
        } else {
            STRIDED.with_borrow_mut(|(bytes, scales)| {
                self.gather_bytes(x, dims, first, n, (bytes, scales));
                then(Bytes { bytes, scales })
            })
        }
    }

    /// The 8-bit pixels and scales that output rows `first…first + n` of a 1×1 convolution with a
    /// stride read.
    fn gather_bytes(
        &self,
        x: &Act,
        (oh, ow): (usize, usize),
        first: usize,
        n: usize,
        out: (&mut Vec<u8>, &mut Vec<f32>),
    ) {
        let q = x.bytes.as_ref().expect("8-bit activations");
        let (bytes, scales) = out;
        bytes.clear();
        scales.clear();
        for r in first..first + n {
            let (img, oy, ox) = (r / (oh * ow), (r / ow) % oh, r % ow);
            let pixel = (img * x.h + oy * self.stride) * x.w + ox * self.stride;
            bytes.extend_from_slice(&q.bytes[pixel * x.c..(pixel + 1) * x.c]);
            scales.push(q.scales[pixel]);
        }
    }

    /// All output rows at once, when there are too few to give every core blocks of its own:
    /// one product split over the cores by output columns (ReLU in its last store), after a pass
    /// writing bias (+ residual).
    fn whole(
        &self,
        x: &Act,
        dims: (usize, usize),
        out: &mut [f32],
        residual: Option<&Act>,
        relu: bool,
        buffers: &Buffers<f32>,
    ) {
        let per_task = ROWS_PER_TASK * self.c_out;
        out.par_chunks_mut(per_task).enumerate().for_each(|(i, dst)| self.start(dst, i * ROWS_PER_TASK, residual));
        let width = self.k * self.k * self.c_in;
        let rows = out.len() / self.c_out;
        let mut patches = Vec::new();
        let lhs = if self.reads_rows_directly() {
            &x.data[..]
        } else {
            patches = buffers.take(rows * width);
            patches
                .par_chunks_mut(ROWS_PER_TASK * width)
                .enumerate()
                .for_each(|(i, p)| self.gather(x, dims, i * ROWS_PER_TASK, p));
            &patches[..]
        };
        self.weight.product_all_cores(out, lhs, Then { accumulate: true, relu });
        buffers.give(patches);
    }

    /// The patch rows of output rows `first…` into `patches` (whole rows of `k·k·c_in`).
    fn gather(&self, x: &Act, dims: (usize, usize), first: usize, patches: &mut [f32]) {
        let width = self.k * self.k * self.c_in;
        for (j, row) in patches.chunks_exact_mut(width).enumerate() {
            self.patch(x, dims, first + j, row);
        }
    }

    /// Output rows from `first` on set to bias (+ the residual's rows): the products add onto it.
    fn start(&self, dst: &mut [f32], first: usize, residual: Option<&Act>) {
        for (j, row) in dst.chunks_exact_mut(self.c_out).enumerate() {
            row.copy_from_slice(&self.bias);
            if let Some(res) = residual {
                let at = (first + j) * self.c_out;
                row.iter_mut().zip(&res.data[at..at + self.c_out]).for_each(|(o, v)| *o += v);
            }
        }
    }

    /// The input pixels of output rows `first…first + n`, `[ky, kx]` for each (their indices in
    /// `x`, or `int8::OUTSIDE` in the padding), in `taps` (grown as needed, not cleared).
    fn taps<'a>(
        &self,
        x: &Act,
        (oh, ow): (usize, usize),
        (first, n): (usize, usize),
        taps: &'a mut Vec<u32>,
    ) -> &'a [u32] {
        let (k, h, w) = (self.k, x.h as isize, x.w as isize);
        // Each pixel's taps inside the image are its first one's index plus these.
        let steps: Vec<isize> = (0..k * k).map(|t| (t / k) as isize * w + (t % k) as isize).collect();
        let taps = super::reuse(taps, n * k * k);
        // The output row's place, stepped along rather than divided out per row.
        let (mut img, mut oy, mut ox) = (first / (oh * ow), (first / ow) % oh, first % ow);
        for row in taps.chunks_exact_mut(k * k) {
            let iy = (oy * self.stride) as isize - self.pad as isize;
            let ix = (ox * self.stride) as isize - self.pad as isize;
            let corner = (img as isize * h + iy) * w + ix;
            if iy >= 0 && ix >= 0 && iy + k as isize <= h && ix + k as isize <= w {
                row.iter_mut().zip(&steps).for_each(|(tap, step)| *tap = (corner + step) as u32);
            } else {
                for (t, tap) in row.iter_mut().enumerate() {
                    let (y, x) = (iy + (t / k) as isize, ix + (t % k) as isize);
                    let inside = (0..h).contains(&y) && (0..w).contains(&x);
                    *tap = if inside { (corner + steps[t]) as u32 } else { int8::OUTSIDE };
                }
            }
            ox += 1;
            if ox == ow {
                (ox, oy) = (0, oy + 1);
                if oy == oh {
                    (oy, img) = (0, img + 1);
                }
            }
        }
        taps
    }

    /// Output row `r`'s patch, `[ky, kx, c_in]` (zero outside the image).
    fn patch(&self, x: &Act, dims: (usize, usize), r: usize, row: &mut [f32]) {
        let mut at = 0;
        self.runs(x, dims, r, |part| {
            let dst = &mut row[at..at + part.len()];
            match part {
                Part::Values(v) => dst.copy_from_slice(v),
                Part::Zeros(_) => dst.fill(0.0),
            }
            at += part.len();
        });
    }

    /// Output row `r`'s patch, `[ky, kx, c_in]`, as the runs it is made of, in order: for each
    /// kernel row, its in-bounds input pixels (contiguous, channels-last) and the zeros outside
    /// the image on either side.
    fn runs<'a>(&self, x: &'a Act, (oh, ow): (usize, usize), r: usize, mut each: impl FnMut(Part<'a>)) {
        let (k, c) = (self.k, x.c);
        let (img, oy, ox) = (r / (oh * ow), (r / ow) % oh, r % ow);
        for ky in 0..k {
            let iy = (oy * self.stride + ky) as isize - self.pad as isize;
            if iy < 0 || iy >= x.h as isize {
                each(Part::Zeros(k * c));
                continue;
            }
            let x0 = (ox * self.stride) as isize - self.pad as isize;
            let lo = (-x0).clamp(0, k as isize) as usize;
            let hi = (x.w as isize - x0).clamp(0, k as isize) as usize;
            if lo > 0 {
                each(Part::Zeros(lo * c));
            }
            if lo < hi {
                let src = ((img * x.h + iy as usize) * x.w + (x0 + lo as isize) as usize) * c;
                each(Part::Values(&x.data[src..src + (hi - lo) * c]));
            }
            if hi.max(lo) < k {
                each(Part::Zeros((k - hi.max(lo)) * c));
            }
        }
    }
}

thread_local! {
    /// Each pool thread's patch rows, kept between blocks and batches: `for_each_init`'s fresh
    /// buffer per split of the work was fresh pages, faulted in each time.
    static PATCHES: std::cell::RefCell<Vec<f32>> = std::cell::RefCell::default();
    /// Each pool thread's quantised rows for the 8-bit products.
    static SCRATCH: std::cell::RefCell<int8::Scratch> = std::cell::RefCell::default();
    /// Each pool thread's room for 8-bit Winograd's bands.
    static WINOGRAD: std::cell::RefCell<int8::WinogradScratch> = std::cell::RefCell::default();
    /// Each pool thread's taps of a block's output rows (`Conv::taps`).
    static TAPS: std::cell::RefCell<Vec<u32>> = std::cell::RefCell::default();
    /// Each pool thread's 8-bit patch rows: pixels for a 1×1 convolution with a stride, or
    /// quantised f32 patches.
    static GATHERED: std::cell::RefCell<(Vec<u8>, Vec<f32>)> = std::cell::RefCell::default();
    /// Each pool thread's input pixels of a downsampling convolution with a stride computed
    /// beside the block's last (`Shortcut::Conv`).
    static STRIDED: std::cell::RefCell<(Vec<u8>, Vec<f32>)> = std::cell::RefCell::default();
}

/// Rows per task of the element-wise passes around a whole-matrix product.
const ROWS_PER_TASK: usize = 256;

fn relu_in_place(v: &mut [f32]) {
    v.iter_mut().for_each(|v| *v = v.max(0.0));
}

/// torchvision's bottleneck (v1.5: the stride sits on the 3×3 convolution).
struct Bottleneck {
    conv1: Conv,
    conv2: Conv,
    conv3: Conv,
    downsample: Option<Conv>,
    /// Whether the block's output is kept in 8 bits (see [`ResNet50::quantise`]).
    bytes_out: bool,
    /// `conv3`'s and the downsampling convolution's biases summed, where the downsampling
    /// convolution is computed beside `conv3` (see [`ResNet50::quantise`]).
    fused_bias: Option<Vec<f32>>,
}

impl Bottleneck {
    fn load(vb: VarBuilder, c_in: usize, width: usize, stride: usize) -> candle_core::Result<Bottleneck> {
        let c_out = width * 4;
        let downsample = if stride != 1 || c_in != c_out {
            Some(Conv::load(vb.pp("downsample.0"), vb.pp("downsample.1"), (c_in, c_out, 1), stride, 0)?)
        } else {
            None
        };
        Ok(Bottleneck {
            conv1: Conv::load(vb.pp("conv1"), vb.pp("bn1"), (c_in, width, 1), 1, 0)?,
            conv2: Conv::load(vb.pp("conv2"), vb.pp("bn2"), (width, width, 3), stride, 1)?,
            conv3: Conv::load(vb.pp("conv3"), vb.pp("bn3"), (width, c_out, 1), 1, 0)?,
            downsample,
            bytes_out: false,
            fused_bias: None,
        })
    }

    fn forward(&self, x: Act, pools: &Pools) -> Act {
        let fused = self.fused_bias.as_deref().zip(self.downsample.as_ref());
        // Where the downsampling is computed beside conv3, the block's input in 8 bits for conv1
        // and the downsampling product to read, quantised once (the stem's pooling keeps it in 8
        // bits as it is made, but for the f32 stem's); else the downsampling convolution's
        // output, computed first.
        let x = if fused.is_some() && x.bytes.is_none() { in_bytes(x, Kernel::Vnni, pools) } else { x };
        let computed = match fused {
            Some(_) => None,
            None => self.downsample.as_ref().map(|d| d.forward(&x, false, None, false, pools)),
        };
        let y2 = self.inner(&x, pools);
        let shortcut = match fused {
            Some((bias, conv)) => Shortcut::Conv { conv, x: &x, bias },
            None => Shortcut::Act(computed.as_ref().unwrap_or(&x)),
        };
        let out = self.conv3.forward(&y2, true, Some(shortcut), self.bytes_out, pools);
        pools.give(y2);
        pools.give(x);
        if let Some(s) = computed {
            pools.give(s);
        }
        out
    }

    /// The first two convolutions: `relu(conv2(relu(conv1(x))))`.
    fn inner(&self, x: &Act, pools: &Pools) -> Act {
        // The first 1×1 convolution's output in 8 bits where the 3×3 one reads pixels tap by tap.
        let y1 = self.conv1.forward(x, true, None, self.conv1.int8.is_some() && self.conv2.reads_taps(), pools);
        // The 3×3 convolution's output in 8 bits when the 1×1 one after it multiplies in 8 bits:
        // quantised block by block while in cache instead of read back from memory in f32.
        let y2 = self.conv2.forward(&y1, true, None, self.conv2.int8.is_some() && self.conv3.int8.is_some(), pools);
        pools.give(y1);
        y2
    }
}

/// `x` kept in 8 bits for `kernel`, a scale per pixel, as an 8-bit product would quantise its rows.
fn in_bytes(x: Act, kernel: Kernel, pools: &Pools) -> Act {
    let rows = x.b * x.h * x.w;
    let (mut bytes, mut scales) = (pools.bytes.take(rows * x.c), pools.f32.take(rows));
    let per_task = ROWS_PER_TASK * x.c;
    bytes
        .par_chunks_mut(per_task)
        .zip(scales.par_chunks_mut(ROWS_PER_TASK))
        .zip(x.data.par_chunks(per_task))
        .for_each(|((bytes, scales), data)| kernel.quantise_rows(data, x.c, bytes, scales));
    let act = Act { data: Vec::new(), bytes: Some(Bytes8 { bytes, scales }), b: x.b, h: x.h, w: x.w, c: x.c };
    pools.give(x);
    act
}

/// ResNet-50 without its final layer: `[batch, 3, h, w]` normalised images → `[batch, 2048]`.
pub struct ResNet50 {
    stem: Conv,
    /// The stem in 16-bit integers on the image's bytes (see [`ResNet50::quantise`]).
    byte_stem: Option<stem::ByteStem>,
    blocks: Vec<Bottleneck>,
    pools: Pools,
    /// Whether the channels have been balanced for 8 bits (see [`ResNet50::quantise`]).
    balanced: bool,
}

impl ResNet50 {
    /// Loads torchvision-layout weights (`conv1`, `bn1`, `layer1`…`layer4`) and folds them.
    pub fn load(vb: VarBuilder) -> candle_core::Result<ResNet50> {
        let stem = Conv::load(vb.pp("conv1"), vb.pp("bn1"), (3, 64, 7), 2, 3)?;
        let mut blocks = Vec::new();
        let mut c_in = 64;
        for (layer, (width, count, stride)) in
            [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)].into_iter().enumerate()
        {
            for i in 0..count {
                let vb = vb.pp(format!("layer{}.{i}", layer + 1));
                blocks.push(Bottleneck::load(vb, c_in, width, if i == 0 { stride } else { 1 })?);
                c_in = width * 4;
            }
        }
        Ok(ResNet50 { stem, byte_stem: None, blocks, pools: Pools::default(), balanced: false })
    }

    /// Runs the products that read post-ReLU activations in 8 bits (`ml::int8`): every
    /// convolution but the stem, with AVX2 alone every one but the stem and Winograd's. The stem,
    /// whose input (the normalised image) is signed, runs in 16-bit integers on the bytes the
    /// image was normalised from as `pixels` says (`resnet::stem`). Every block's output but
    /// the last is kept in 8 bits between blocks, quantised per pixel as the next block's 1×1
    /// convolutions would quantise it, and read from there by them and as the next residual.
    /// Returns the kernel, or `None`, changing nothing, when the CPU has no 8-bit kernel (neither
    /// AVX-512 VNNI nor AVX2).
    pub fn quantise(&mut self, pixels: Pixels) -> Option<Kernel> {
        let kernel = int8::kernel()?;
        // Each channel between two convolutions balanced for the 8-bit steps (`equalise`): the
        // stem's output (read by the first block's first and downsampling convolutions alone),
        // and inside each block the first convolution's and the 3×3 one's. Once: a second pass
        // would find every factor 1 but move the weights by rounding.
        if !std::mem::replace(&mut self.balanced, true) {
            let first = &mut self.blocks[0];
            if let Some(downsample) = first.downsample.as_mut() {
                equalise::between(&mut self.stem, &mut [&mut first.conv1, downsample]);
            }
            for b in &mut self.blocks {
                equalise::between(&mut b.conv1, &mut [&mut b.conv2]);
                equalise::between(&mut b.conv2, &mut [&mut b.conv3]);
            }
        }
        self.byte_stem = stem::ByteStem::new(&self.stem, pixels);
        for b in &mut self.blocks {
            for conv in [&mut b.conv1, &mut b.conv2, &mut b.conv3].into_iter().chain(b.downsample.as_mut()) {
                conv.quantise(kernel);
            }
        }
        let last = self.blocks.len() - 1;
        for i in 0..last {
            let next = &self.blocks[i + 1];
            // The next block's readers of this output: its first 1×1 convolution and its
            // downsampling one, both in 8 bits (always, at ResNet-50's shapes).
            let readers_in_8_bits =
                next.conv1.int8.is_some() && next.downsample.as_ref().is_none_or(|d| d.int8.is_some());
            self.blocks[i].bytes_out = readers_in_8_bits && self.blocks[i].conv3.int8.is_some();
        }
        // With VNNI, each downsampling convolution (1×1, in 8 bits) is computed beside its
        // block's last convolution, as a second product of that product's tiles.
        for b in &mut self.blocks {
            let fuses = kernel == Kernel::Vnni && b.conv3.int8.is_some() && b.conv1.int8.is_some();
            b.fused_bias = b
                .downsample
                .as_ref()
                .filter(|d| fuses && d.int8.is_some() && d.k == 1 && d.pad == 0)
                .map(|d| b.conv3.bias.iter().zip(&d.bias).map(|(a, b)| a + b).collect());
        }
        Some(kernel)
    }
}

impl ResNet50 {
    /// Pooled `[b, 2048]` features of `b` channels-last `h`×`w` RGB images (`data` is
    /// `[b, h, w, 3]`, normalised).
    pub fn forward_hwc(&self, data: Vec<f32>, (b, h, w): (usize, usize, usize)) -> Vec<f32> {
        assert_eq!(data.len(), b * h * w * 3, "channels-last RGB images");
        let pools = &self.pools;
        in_parts(&data, (b, h * w * 3), |part, b| {
            let image = Act { data: part.to_vec(), bytes: None, b, h, w, c: 3 };
            let x = match self.byte_stem.as_ref().and_then(|s| s.forward(&image, self.first_reads_bytes(), pools)) {
                Some(x) => x,
                None => {
                    let stem = self.stem.forward(&image, true, None, false, pools);
                    let x = max_pool_3x3_s2(&stem, &pools.f32);
                    pools.give(stem);
                    x
                }
            };
            self.blocks_from(x)
        })
    }

    /// Whether [`ResNet50::forward_bytes`] runs: the stem runs on the image's bytes.
    pub fn takes_bytes(&self) -> bool {
        self.byte_stem.is_some()
    }

    /// Pooled `[b, 2048]` features of `b` channels-last `h`×`w` RGB images given as the bytes
    /// they would be normalised from (`[b, h, w, 3]`), where [`ResNet50::takes_bytes`]: no
    /// normalised copy is made for the 16-bit stem to recover the bytes from.
    pub fn forward_bytes(&self, bytes: &[u8], dims: (usize, usize, usize)) -> Vec<f32> {
        let stem = self.byte_stem.as_ref().expect("the stem runs on bytes (ResNet50::takes_bytes)");
        let (b, h, w) = dims;
        assert_eq!(bytes.len(), b * h * w * 3, "channels-last RGB bytes");
        in_parts(bytes, (b, h * w * 3), |part, b| {
            self.blocks_from(stem.forward_bytes(part, (b, h, w), self.first_reads_bytes(), &self.pools))
        })
    }

    /// The kernel the first block reads its input in 8 bits for, where it does (its
    /// downsampling is computed beside its last convolution, see [`ResNet50::quantise`]): the
    /// stem's pooled output is then kept in 8 bits as it is made.
    fn first_reads_bytes(&self) -> Option<Kernel> {
        self.blocks[0].fused_bias.as_ref().map(|_| Kernel::Vnni)
    }

    /// The blocks and the average pooling after the stem's max pooling.
    fn blocks_from(&self, mut x: Act) -> Vec<f32> {
        let pools = &self.pools;
        for block in &self.blocks {
            x = block.forward(x, pools);
        }
        let pooled = global_average(&x);
        pools.give(x);
        pooled
    }
}

/// `run(part, images)` for the batch's `images` (`b` of `each` values) in as many parts as there
/// are threads, each part through the whole network on a core of its own, and their features
/// one after another. Each convolution still shares its rows out as tasks, but a thread takes
/// its own part's first and steals the other's only when it runs out of its own: the cores no
/// longer wait for each other at each of the 53 convolutions' ends, and each keeps its own
/// images' activations in its cache. A row's result depends only on that row, so the features
/// are those of the whole batch at once.
fn in_parts<T: Sync>(
    images: &[T],
    (b, each): (usize, usize),
    run: impl Fn(&[T], usize) -> Vec<f32> + Sync,
) -> Vec<f32> {
    let per_part = b.div_ceil(rayon::current_num_threads()).max(1);
    let parts: Vec<Vec<f32>> = images.par_chunks(per_part * each).map(|part| run(part, part.len() / each)).collect();
    parts.concat()
}

impl Module for ResNet50 {
    fn forward(&self, xs: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        if c != 3 {
            candle_core::bail!("ResNet-50 takes RGB images, not {c} channels");
        }
        let data = xs.to_device(&Device::Cpu)?.to_dtype(DType::F32)?.permute((0, 2, 3, 1))?.flatten_all()?.to_vec1()?;
        let pooled = self.forward_hwc(data, (b, h, w));
        let features = pooled.len() / b.max(1);
        Tensor::from_vec(pooled, (b, features), xs.device())
    }
}

/// The mean over each image's positions: `[b, c]`, an image per task.
fn global_average(x: &Act) -> Vec<f32> {
    let per_image = x.h * x.w;
    let mut out = vec![0f32; x.b * x.c];
    out.par_chunks_mut(x.c).enumerate().for_each(|(img, row)| {
        for pos in x.data[img * per_image * x.c..(img + 1) * per_image * x.c].chunks(x.c) {
            row.iter_mut().zip(pos).for_each(|(o, v)| *o += v);
        }
        row.iter_mut().for_each(|o| *o /= per_image as f32);
    });
    out
}
