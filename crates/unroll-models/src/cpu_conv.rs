//! 2-D convolution on the CPU (`flex`) as im2col + GEMM, forward and both gradients.
//!
//! Every model calls [`conv2d`] instead of `Conv2d::forward`: the parameters stay in Burn's
//! `nn::Conv2d` (checkpoints keep their format), and on a `flex` device (with or without autodiff)
//! an f32, `groups = 1` convolution runs as one GEMM per sample:
//! - forward `Y_n[C_out, P] = W[C_out, K] · cols(x_n)[K, P]` (+ bias), with `K = C_in·k_h·k_w`
//!   and `P = H_out·W_out`;
//! - weight gradient `dW = Σ_n dY_n · cols(x_n)ᵀ`, bias gradient `Σ_{n,p} dY`;
//! - input gradient `dx_n = col2im(Wᵀ · dY_n)`.
//!
//! 1×1 convolutions with stride 1 and no padding skip im2col (`cols(x_n) = x_n`). Samples run in
//! parallel (rayon), each GEMM single-threaded, when the batch has at least as many samples as
//! there are threads; otherwise the GEMMs are parallel. Burn 0.22's flex backend computes the
//! weight gradient as a convolution whose "channels" are the batch, which for the small batches
//! and channel counts of unrolled networks falls on a direct loop many times slower than a GEMM.
//! Every other device, dtype or grouping runs `Conv2d::forward` unchanged (wgpu included).

use std::ops::Range;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, ExtensionType, Flex, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;

/// `conv.forward(x)` for `x: [N, C_in, H, W]`, on the im2col + GEMM path of the module docs where it
/// applies.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    if conv.groups != 1 || x.dtype() != DType::F32 || !on_flex(&x.device()) {
        return conv.forward(x);
    }
    let [_, _, h, w] = x.dims();
    let geometry = ConvGeometry { stride: conv.stride, padding: padding(conv, [h, w]), dilation: conv.dilation };
    let bias = match &conv.bias {
        Some(bias) => ConvBias::Learned(bias.val().into_dispatch()),
        None => ConvBias::Absent,
    };
    let y = <Dispatch as CpuConv>::cpu_conv2d(x.into_dispatch(), conv.weight.val().into_dispatch(), bias, geometry);
    Tensor::from_dispatch(y)
}

/// The `(before, after)` zero padding of `conv` on an `[h, w]` input, rows then columns, as
/// `Conv2d::forward` pads (`Same`: as much as a stride-1 output of size ⌈size/stride⌉ needs for
/// the undilated kernel, the odd pixel after).
fn padding(conv: &Conv2d, size: [usize; 2]) -> [(usize, usize); 2] {
    std::array::from_fn(|axis| match conv.padding {
        PaddingConfig2d::Valid => (0, 0),
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)][axis],
        PaddingConfig2d::Same => {
            let (k, s, n) = (conv.kernel_size[axis], conv.stride[axis], size[axis]);
            let total = ((n.div_ceil(s).max(1) - 1) * s + k).saturating_sub(n);
            (total / 2, total - total / 2)
        }
    })
}

/// Whether `device` is `flex`, or autodiff over `flex`.
pub(crate) fn on_flex(device: &Device) -> bool {
    matches!(device.clone().inner().as_dispatch(), burn::backend::DispatchDevice::Flex(_))
}

/// Stride, padding (`(before, after)` per axis) and dilation of a convolution, rows then columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub stride: [usize; 2],
    pub padding: [(usize, usize); 2],
    pub dilation: [usize; 2],
}

/// The convolution's bias `[C_out]`, if it has one.
#[derive(ExtensionType)]
pub enum ConvBias<B: Backend> {
    Learned(FloatTensor<B>),
    Absent,
}

/// The convolution of [`conv2d`] as a backend extension (flex, and autodiff over flex).
#[backend_extension(Flex, Autodiff)]
pub trait CpuConv: Backend {
    /// `x: [N, C_in, H, W]`, `weight: [C_out, C_in, k_h, k_w]` → `[N, C_out, H_out, W_out]`.
    fn cpu_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        #[extension_type] bias: ConvBias<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self>;
}

impl CpuConv for Flex {
    fn cpu_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: ConvBias<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self> {
        let plan = Plan::new(shape4(&x), shape4(&weight), geometry);
        let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
        let bias = match bias {
            ConvBias::Learned(bias) => Some(bias.to_contiguous()),
            ConvBias::Absent => None,
        };
        let y = plan.forward(f32s(&x), f32s(&weight), bias.as_ref().map(f32s));
        flex_tensor(y, plan.output_shape())
    }
}

impl<C: CheckpointStrategy> CpuConv for Autodiff<Flex, C> {
    fn cpu_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: ConvBias<Self>,
        geometry: ConvGeometry,
    ) -> FloatTensor<Self> {
        let forward = |x: &FloatTensor<Flex>, weight: &FloatTensor<Flex>, bias: Option<&FloatTensor<Flex>>| {
            let bias = bias.map_or(ConvBias::Absent, |b| ConvBias::Learned(b.clone()));
            Flex::cpu_conv2d(x.clone(), weight.clone(), bias, geometry)
        };
        match bias {
            ConvBias::Learned(bias) => {
                match ConvBackward.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
                    OpsKind::Tracked(mut prep) => {
                        let state = (prep.checkpoint(&x), prep.checkpoint(&weight), geometry);
                        prep.finish(state, forward(x.primitive(), weight.primitive(), Some(bias.primitive())))
                    }
                    OpsKind::UnTracked(prep) => {
                        prep.finish(forward(x.primitive(), weight.primitive(), Some(bias.primitive())))
                    }
                }
            }
            ConvBias::Absent => match ConvBackward.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
                OpsKind::Tracked(mut prep) => {
                    let state = (prep.checkpoint(&x), prep.checkpoint(&weight), geometry);
                    prep.finish(state, forward(x.primitive(), weight.primitive(), None))
                }
                OpsKind::UnTracked(prep) => prep.finish(forward(x.primitive(), weight.primitive(), None)),
            },
        }
    }
}

/// The backward step of [`CpuConv::cpu_conv2d`]; `N = 3` with a bias, 2 without.
#[derive(Debug)]
struct ConvBackward;

impl<const N: usize> Backward<Flex, N> for ConvBackward {
    type State = (NodeId, NodeId, ConvGeometry);

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x_id, weight_id, geometry) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<Flex>>(x_id);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<Flex>>(weight_id);
        let plan = Plan::new(shape4(&x), shape4(&weight), geometry);
        let [x_node, weight_node, bias_node] = std::array::from_fn(|i| ops.parents.get(i).cloned().flatten());
        let wants = Wants { x: x_node.is_some(), weight: weight_node.is_some(), bias: bias_node.is_some() };
        let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
        let gradients = plan.backward(f32s(&x), f32s(&weight), f32s(&grad), wants);
        for (node, gradient, shape) in [
            (x_node, gradients.x, plan.input_shape()),
            (weight_node, gradients.weight, plan.weight_shape()),
            (bias_node, gradients.bias, vec![plan.c_out]),
        ] {
            if let (Some(node), Some(gradient)) = (node, gradient) {
                grads.register::<Flex>(node.id, flex_tensor(gradient, shape));
            }
        }
    }
}

/// The dims of a 4-D flex tensor.
fn shape4(tensor: &FloatTensor<Flex>) -> [usize; 4] {
    let shape = tensor.layout().shape();
    assert_eq!(shape.num_dims(), 4, "cpu_conv2d: a 4-D tensor is needed, got {shape:?}");
    [shape[0], shape[1], shape[2], shape[3]]
}

/// The f32 elements of a contiguous flex tensor.
fn f32s(tensor: &FloatTensor<Flex>) -> &[f32] {
    tensor.as_slice::<f32>().expect("cpu_conv2d: a contiguous f32 tensor")
}

fn flex_tensor(values: Vec<f32>, shape: Vec<usize>) -> FloatTensor<Flex> {
    FloatTensor::<Flex>::from_data(TensorData::new(values, shape))
}

/// Which gradients the backward pass computes.
#[derive(Clone, Copy, Debug)]
struct Wants {
    x: bool,
    weight: bool,
    bias: bool,
}

/// The gradients of one convolution, row-major in the shapes of `x`, the weight and the bias.
struct ConvGradients {
    x: Option<Vec<f32>>,
    weight: Option<Vec<f32>>,
    bias: Option<Vec<f32>>,
}

/// The sizes of one convolution and its im2col matrix.
#[derive(Clone, Copy, Debug)]
struct Plan {
    batch: usize,
    c_in: usize,
    height: usize,
    width: usize,
    c_out: usize,
    kernel: [usize; 2],
    out: [usize; 2],
    geometry: ConvGeometry,
}

impl Plan {
    fn new(
        [batch, c_in, height, width]: [usize; 4],
        [c_out, c_in_w, kh, kw]: [usize; 4],
        geometry: ConvGeometry,
    ) -> Self {
        assert_eq!(c_in, c_in_w, "cpu_conv2d: the input has {c_in} channels, the weight expects {c_in_w}");
        let size = |axis: usize, size_in: usize, k: usize| {
            let (before, after) = geometry.padding[axis];
            let span = geometry.dilation[axis] * (k - 1) + 1;
            let padded = size_in + before + after;
            assert!(padded >= span, "cpu_conv2d: the kernel spans {span} pixels, the padded input has {padded}");
            (padded - span) / geometry.stride[axis] + 1
        };
        let out = [size(0, height, kh), size(1, width, kw)];
        Self { batch, c_in, height, width, c_out, kernel: [kh, kw], out, geometry }
    }

    fn input_shape(&self) -> Vec<usize> {
        vec![self.batch, self.c_in, self.height, self.width]
    }

    fn weight_shape(&self) -> Vec<usize> {
        vec![self.c_out, self.c_in, self.kernel[0], self.kernel[1]]
    }

    fn output_shape(&self) -> Vec<usize> {
        vec![self.batch, self.c_out, self.out[0], self.out[1]]
    }

    /// Rows of the im2col matrix: `C_in·k_h·k_w`.
    fn taps(&self) -> usize {
        self.c_in * self.kernel[0] * self.kernel[1]
    }

    /// Columns of the im2col matrix: `H_out·W_out`.
    fn pixels(&self) -> usize {
        self.out[0] * self.out[1]
    }

    /// Whether the im2col matrix of a sample is the sample itself (1×1, stride 1, no padding).
    fn is_pointwise(&self) -> bool {
        let g = &self.geometry;
        self.kernel == [1, 1] && g.stride == [1, 1] && g.padding == [(0, 0), (0, 0)]
    }

    /// Whether samples run in parallel, one per thread, each GEMM single-threaded (at least as many
    /// samples as threads), rather than one after the other with parallel GEMMs.
    fn samples_in_parallel(&self) -> bool {
        self.batch >= rayon::current_num_threads()
    }

    fn gemm_parallelism(&self) -> gemm::Parallelism {
        if self.samples_in_parallel() {
            gemm::Parallelism::None
        } else {
            gemm::Parallelism::Rayon(rayon::current_num_threads())
        }
    }

    /// The bands of output rows a sample is processed in. With one thread per sample, each band's
    /// im2col matrix (`K × band pixels`) holds about [`TILE_FLOATS`] values, so that it stays in
    /// cache between being written and read by the GEMM; with parallel GEMMs, about
    /// [`PARALLEL_TILE_FLOATS`], large enough to share among threads and small next to the
    /// activations (a whole 128² sample of 64 channels and 3×3 taps would take 38 MB).
    fn row_bands(&self) -> impl Iterator<Item = Range<usize>> + use<> {
        let rows = self.out[0];
        let floats = if self.samples_in_parallel() { TILE_FLOATS } else { PARALLEL_TILE_FLOATS };
        let band = if self.is_pointwise() {
            rows.max(1)
        } else {
            (floats / (self.taps() * self.out[1]).max(1)).clamp(1, rows.max(1))
        };
        (0..rows).step_by(band).map(move |start| start..(start + band).min(rows))
    }

    fn forward(&self, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
        let (taps, pixels) = (self.taps(), self.pixels());
        let sample_in = self.c_in * self.height * self.width;
        let parallelism = self.gemm_parallelism();
        let mut y = vec![0.0f32; self.batch * self.c_out * pixels];
        y.par_chunks_mut(self.c_out * pixels).zip(x.par_chunks(sample_in)).for_each_init(
            Vec::new,
            |buffer, (y_n, x_n)| {
                if let Some(bias) = bias {
                    for (row, b) in y_n.chunks_mut(pixels).zip(bias) {
                        row.fill(*b);
                    }
                }
                for rows in self.row_bands() {
                    let (start, width) = (rows.start * self.out[1], rows.len() * self.out[1]);
                    let cols = self.columns(x_n, rows, buffer);
                    // y_n[C_out, band] (+)= W[C_out, K] · cols[K, band]
                    gemm_into(
                        &mut y_n[start..],
                        pixels,
                        bias.is_some(),
                        Matrix::rows(weight, taps),
                        Matrix::rows(cols, width),
                        [self.c_out, width, taps],
                        parallelism,
                    );
                }
            },
        );
        y
    }

    fn backward(&self, x: &[f32], weight: &[f32], dy: &[f32], wants: Wants) -> ConvGradients {
        let (taps, pixels) = (self.taps(), self.pixels());
        let sample_in = self.c_in * self.height * self.width;
        let sample_out = self.c_out * pixels;
        let parallelism = self.gemm_parallelism();
        let mut dx = wants.x.then(|| vec![0.0f32; x.len()]);
        let dx_parts: Vec<Option<&mut [f32]>> = match dx.as_mut() {
            Some(dx) => dx.chunks_mut(sample_in).map(Some).collect(),
            None => (0..self.batch).map(|_| None).collect(),
        };
        // Per thread: the partial weight gradient and the buffer of a band's im2col matrix, then of
        // its gradient (one buffer: the fewer fresh pages, the less time zeroing them).
        let partial_weights: Vec<Vec<f32>> = dx_parts
            .into_par_iter()
            .zip(x.par_chunks(sample_in))
            .zip(dy.par_chunks(sample_out))
            .fold(
                || (Vec::new(), Vec::new()),
                |(mut dw, mut buffer): (Vec<f32>, Vec<f32>), ((mut dx_n, x_n), dy_n)| {
                    for rows in self.row_bands() {
                        let (start, width) = (rows.start * self.out[1], rows.len() * self.out[1]);
                        let dy_band = Matrix::rows(&dy_n[start..], pixels);
                        if wants.weight {
                            let accumulate = !dw.is_empty();
                            dw.resize(self.c_out * taps, 0.0);
                            // dW[C_out, K] += dY_n[C_out, band] · cols[K, band]ᵀ
                            let cols = Matrix::columns(self.columns(x_n, rows.clone(), &mut buffer), width);
                            gemm_into(&mut dw, taps, accumulate, dy_band, cols, [self.c_out, taps, width], parallelism);
                        }
                        if let Some(dx_n) = dx_n.as_deref_mut() {
                            // dcols[K, band] = W[C_out, K]ᵀ · dY_n[C_out, band], summed back onto the pixels.
                            let w_t = Matrix::columns(weight, taps);
                            if self.is_pointwise() {
                                gemm_into(dx_n, pixels, false, w_t, dy_band, [taps, pixels, self.c_out], parallelism);
                            } else {
                                buffer.resize(taps * width, 0.0);
                                gemm_into(
                                    &mut buffer,
                                    width,
                                    false,
                                    w_t,
                                    dy_band,
                                    [taps, width, self.c_out],
                                    parallelism,
                                );
                                self.col2im(&buffer, rows, dx_n);
                            }
                        }
                    }
                    (dw, buffer)
                },
            )
            .map(|(dw, _)| dw)
            .filter(|dw| !dw.is_empty())
            .collect();
        let weight = wants.weight.then(|| {
            let mut parts = partial_weights.into_iter();
            let mut sum = parts.next().unwrap_or_else(|| vec![0.0; self.c_out * taps]);
            for part in parts {
                sum.iter_mut().zip(part).for_each(|(s, p)| *s += p);
            }
            sum
        });
        let bias = wants.bias.then(|| {
            let mut sum = vec![0.0f32; self.c_out];
            for dy_n in dy.chunks(sample_out) {
                for (s, row) in sum.iter_mut().zip(dy_n.chunks(pixels)) {
                    *s += row.iter().sum::<f32>();
                }
            }
            sum
        });
        ConvGradients { x: dx, weight, bias }
    }

    /// The im2col matrix `[K, band pixels]` of the output rows `rows` of one sample `[C_in, H, W]`:
    /// the sample itself for a pointwise convolution (which has one band), else written into
    /// `buffer`.
    fn columns<'a>(&self, x_n: &'a [f32], rows: Range<usize>, buffer: &'a mut Vec<f32>) -> &'a [f32] {
        if self.is_pointwise() {
            return x_n;
        }
        let width = rows.len() * self.out[1];
        buffer.resize(self.taps() * width, 0.0);
        self.for_each_tap(rows, |plane, row, tap| {
            let src = &x_n[plane * self.height * self.width..][..self.height * self.width];
            let dst = &mut buffer[row * width..][..width];
            for (out, iy) in dst.chunks_mut(self.out[1]).zip(tap.rows) {
                let Some(iy) = iy else {
                    out.fill(0.0);
                    continue;
                };
                let line = &src[iy * self.width..][..self.width];
                let [lo, hi] = tap.columns;
                out[..lo].fill(0.0);
                out[hi..].fill(0.0);
                if lo == hi {
                    continue;
                }
                let stride = self.geometry.stride[1];
                let first = lo * stride + tap.column_offset - tap.column_shift;
                if stride == 1 {
                    out[lo..hi].copy_from_slice(&line[first..first + hi - lo]);
                } else {
                    for (o, i) in out[lo..hi].iter_mut().zip(line[first..].iter().step_by(stride)) {
                        *o = *i;
                    }
                }
            }
        });
        buffer
    }

    /// The adjoint of [`Self::columns`]: adds each entry of `cols [K, band pixels]` onto its input
    /// pixel of `dx_n [C_in, H, W]`.
    fn col2im(&self, cols: &[f32], rows: Range<usize>, dx_n: &mut [f32]) {
        let width = rows.len() * self.out[1];
        self.for_each_tap(rows, |plane, row, tap| {
            let dst = &mut dx_n[plane * self.height * self.width..][..self.height * self.width];
            let src = &cols[row * width..][..width];
            for (values, iy) in src.chunks(self.out[1]).zip(tap.rows) {
                let Some(iy) = iy else { continue };
                let line = &mut dst[iy * self.width..][..self.width];
                let [lo, hi] = tap.columns;
                if lo == hi {
                    continue;
                }
                let stride = self.geometry.stride[1];
                let first = lo * stride + tap.column_offset - tap.column_shift;
                if stride == 1 {
                    line[first..first + hi - lo].iter_mut().zip(&values[lo..hi]).for_each(|(i, v)| *i += *v);
                } else {
                    line[first..].iter_mut().step_by(stride).zip(&values[lo..hi]).for_each(|(i, v)| *i += *v);
                }
            }
        });
    }

    /// Calls `visit(input_channel, im2col_row, tap)` for every kernel tap of every input channel,
    /// over the output rows `rows`.
    fn for_each_tap(&self, rows: Range<usize>, mut visit: impl FnMut(usize, usize, &Tap)) {
        let [kh, kw] = self.kernel;
        let g = &self.geometry;
        let mut inputs = vec![None; rows.len()];
        for ki in 0..kh {
            // Input row of output row `oy`: `oy·s + ki·d − pad`, `None` in the padding.
            for (oy, input) in rows.clone().zip(inputs.iter_mut()) {
                let iy = (oy * g.stride[0] + ki * g.dilation[0]).checked_sub(g.padding[0].0);
                *input = iy.filter(|&iy| iy < self.height);
            }
            for kj in 0..kw {
                let tap = Tap::new(&inputs, kj * g.dilation[1], g.padding[1].0, g.stride[1], self.width, self.out[1]);
                for plane in 0..self.c_in {
                    visit(plane, (plane * kh + ki) * kw + kj, &tap);
                }
            }
        }
    }
}

/// About how many values one band's im2col matrix holds (256 KiB of f32: a core's L2 share).
const TILE_FLOATS: usize = 1 << 16;

/// About how many values one band's im2col matrix holds when the GEMMs run in parallel (4 MiB).
const PARALLEL_TILE_FLOATS: usize = 1 << 20;

/// One kernel tap: the input row of each output row, and the output columns `[lo, hi)` whose input
/// column `ox·stride + column_offset − column_shift` lies inside the image.
struct Tap<'a> {
    rows: &'a [Option<usize>],
    columns: [usize; 2],
    column_offset: usize,
    column_shift: usize,
}

impl<'a> Tap<'a> {
    fn new(rows: &'a [Option<usize>], offset: usize, shift: usize, stride: usize, width: usize, out: usize) -> Self {
        // ox·stride + offset ≥ shift  ⇔  ox ≥ ⌈(shift − offset)/stride⌉
        let lo = shift.saturating_sub(offset).div_ceil(stride).min(out);
        // ox·stride + offset − shift < width  ⇔  ox < ⌈(width + shift − offset)/stride⌉
        let hi = (width + shift).saturating_sub(offset).div_ceil(stride).min(out).max(lo);
        Self { rows, columns: [lo, hi], column_offset: offset, column_shift: shift }
    }
}

/// A read-only row-major view of a matrix: `rows(data, n)` for `[_, n]`, `columns(data, n)` for
/// the transpose of `[_, n]`.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [f32],
    row_stride: isize,
    column_stride: isize,
}

impl<'a> Matrix<'a> {
    fn rows(data: &'a [f32], width: usize) -> Self {
        Self { data, row_stride: width as isize, column_stride: 1 }
    }

    fn columns(data: &'a [f32], width: usize) -> Self {
        Self { data, row_stride: 1, column_stride: width as isize }
    }
}

/// `dst[m, n] (row-major, row stride dst_width) = (accumulate ? dst : 0) + lhs[m, k] · rhs[k, n]`.
fn gemm_into(
    dst: &mut [f32],
    dst_width: usize,
    accumulate: bool,
    lhs: Matrix,
    rhs: Matrix,
    [m, n, k]: [usize; 3],
    parallelism: gemm::Parallelism,
) {
    let last = |a: Matrix, rows: usize, cols: usize| {
        (rows.max(1) - 1) as isize * a.row_stride + (cols.max(1) - 1) as isize * a.column_stride
    };
    assert!(m * n == 0 || (m - 1) * dst_width + n <= dst.len(), "gemm_into: the destination is too small");
    assert!(m * k == 0 || (last(lhs, m, k) as usize) < lhs.data.len(), "gemm_into: the left matrix is too small");
    assert!(k * n == 0 || (last(rhs, k, n) as usize) < rhs.data.len(), "gemm_into: the right matrix is too small");
    // SAFETY: the asserts above keep every index the strides reach inside the slices; `dst` is
    // borrowed mutably, so it does not alias `lhs` or `rhs`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_width as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.column_stride,
            lhs.row_stride,
            rhs.data.as_ptr(),
            rhs.column_stride,
            rhs.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Distribution;

    use super::*;

    /// One convolution to compare: `[batch, c_in, h, w] → c_out` channels.
    #[derive(Clone)]
    struct Case {
        batch: usize,
        channels: [usize; 2],
        size: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        dilation: [usize; 2],
        padding: PaddingConfig2d,
        bias: bool,
    }

    impl Case {
        fn conv(&self, device: &Device) -> Conv2d {
            Conv2dConfig::new(self.channels, self.kernel)
                .with_stride(self.stride)
                .with_dilation(self.dilation)
                .with_padding(self.padding.clone())
                .with_bias(self.bias)
                .with_initializer(burn::nn::Initializer::Normal { mean: 0.1, std: 1.0 })
                .init(device)
        }

        fn input(&self, device: &Device) -> Tensor<4> {
            let [h, w] = self.size;
            Tensor::random([self.batch, self.channels[0], h, w], Distribution::Normal(0.0, 1.0), device)
        }
    }

    fn cases() -> Vec<Case> {
        let base = Case {
            batch: 4,
            channels: [2, 16],
            size: [12, 10],
            kernel: [3, 3],
            stride: [1, 1],
            dilation: [1, 1],
            padding: PaddingConfig2d::Same,
            bias: true,
        };
        vec![
            Case { channels: [16, 2], ..base.clone() },
            Case { batch: 1, size: [9, 13], kernel: [5, 5], ..base.clone() },
            Case {
                batch: 3,
                channels: [3, 5],
                dilation: [2, 3],
                padding: PaddingConfig2d::Explicit(2, 3, 2, 3),
                ..base.clone()
            },
            Case {
                channels: [4, 6],
                stride: [2, 3],
                size: [11, 14],
                padding: PaddingConfig2d::Explicit(1, 0, 2, 1),
                ..base.clone()
            },
            Case {
                batch: 2,
                channels: [5, 7],
                kernel: [2, 3],
                stride: [2, 2],
                padding: PaddingConfig2d::Same,
                bias: false,
                ..base.clone()
            },
            Case { batch: 5, channels: [6, 3], kernel: [1, 1], padding: PaddingConfig2d::Valid, ..base.clone() },
            Case {
                batch: 1,
                channels: [3, 4],
                kernel: [3, 1],
                size: [4, 5],
                padding: PaddingConfig2d::Valid,
                bias: false,
                ..base.clone()
            },
            Case {
                channels: [2, 3],
                kernel: [3, 3],
                size: [3, 3],
                padding: PaddingConfig2d::Explicit(4, 4, 4, 4),
                ..base.clone()
            },
            // Processed in several bands of output rows (the last one shorter) when the samples
            // run in parallel.
            Case { channels: [16, 8], size: [64, 40], ..base.clone() },
            Case { channels: [32, 4], size: [70, 66], stride: [2, 2], dilation: [1, 2], ..base.clone() },
            // Bands of a single sample, with parallel GEMMs (on more than one thread).
            Case { batch: 1, channels: [64, 8], size: [130, 128], ..base.clone() },
            base,
        ]
    }

    fn assert_close(name: &str, ours: Tensor<4>, reference: Tensor<4>) {
        assert_eq!(ours.dims(), reference.dims(), "{name}: shapes");
        let scale = reference.clone().abs().max().into_scalar::<f32>().max(1.0);
        let error = (ours - reference).abs().max().into_scalar::<f32>();
        assert!(error <= 1e-5 * scale * 10.0, "{name}: max error {error} (scale {scale})");
    }

    #[test]
    fn gemm_convolution_matches_burn_forward_and_gradients() {
        let plain = Device::flex().autodiff();
        let checkpointed = Device::flex().autodiff().gradient_checkpointing();
        assert!(on_flex(&plain) && on_flex(&checkpointed) && on_flex(&Device::flex()), "the GEMM path is taken");
        for (i, case) in cases().iter().enumerate() {
            let device = if i % 2 == 0 { &plain } else { &checkpointed };
            device.seed(i as u64);
            let conv = case.conv(device);
            let x = case.input(device).require_grad();
            let reference = conv.forward(x.clone());
            let ours = conv2d(&conv, x.clone());
            let cotangent = reference.random_like(Distribution::Normal(0.0, 1.0)).detach();
            assert_close(&format!("case {i} forward"), ours.clone(), reference.clone());

            let grads_ref = (reference * cotangent.clone()).sum().backward();
            let grads = (ours * cotangent).sum().backward();
            assert_close(&format!("case {i} dx"), x.grad(&grads).unwrap(), x.grad(&grads_ref).unwrap());
            let weight = conv.weight.val();
            assert_close(&format!("case {i} dW"), weight.grad(&grads).unwrap(), weight.grad(&grads_ref).unwrap());
            if let Some(bias) = &conv.bias {
                let (ours, reference) = (bias.val().grad(&grads).unwrap(), bias.val().grad(&grads_ref).unwrap());
                assert_close(&format!("case {i} db"), ours.reshape([1, 1, 1, -1]), reference.reshape([1, 1, 1, -1]));
            }
        }
    }

    #[test]
    fn gemm_convolution_runs_without_autodiff_and_with_a_constant_input() {
        let device = Device::flex();
        for (i, case) in cases().iter().enumerate() {
            let conv = case.conv(&device);
            let x = case.input(&device);
            assert_close(&format!("case {i} forward"), conv2d(&conv, x.clone()), conv.forward(x));
        }
        // On autodiff, an input that needs no gradient gets none; the weight's is still computed.
        let device = Device::flex().autodiff();
        let case = &cases()[0];
        let conv = case.conv(&device);
        let x = case.input(&device);
        let grads = conv2d(&conv, x.clone()).sum().backward();
        let grads_ref = conv.forward(x.clone()).sum().backward();
        assert!(x.grad(&grads).is_none());
        let weight = conv.weight.val();
        assert_close("constant input dW", weight.grad(&grads).unwrap(), weight.grad(&grads_ref).unwrap());
    }

    #[test]
    fn same_padding_is_burns() {
        for (size, kernel, stride) in [(10, 3, 1), (11, 2, 2), (7, 5, 3), (4, 4, 1), (9, 1, 2)] {
            let conv = Conv2dConfig::new([1, 1], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Same)
                .init(&Device::flex());
            let pad = padding(&conv, [size, size]);
            let x = Tensor::<4>::ones([1, 1, size, size], &Device::flex());
            let out = conv.forward(x).dims()[2];
            assert_eq!(out, (size + pad[0].0 + pad[0].1 - kernel) / stride + 1, "size {size} kernel {kernel}");
            assert_eq!(pad[0], pad[1]);
        }
    }
}
