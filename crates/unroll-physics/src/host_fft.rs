//! CPU fast path of the 2D FFT: a Burn custom operation computed by `rustfft` on the host, with a
//! hand-written backward (the adjoint transform), registered for the flex and ndarray backends and
//! for autodiff on top of them.
//!
//! Both planes travel as one packed tensor `[2, B, H, W]` (real part first), so the op is unary and
//! its backward is a single call of the same op in the opposite direction: for `y = s·F(x)` with `F`
//! the unnormalised DFT (optionally centred), `∂L/∂x = s·Fᴴ(∂L/∂y)` and `Fᴴ` is the unnormalised
//! inverse DFT with the same centring.

// ndarray is deprecated upstream, but the project keeps it selectable, so the op covers it.
#![allow(deprecated)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, TensorMetadata, backend_extension, read_sync};
use burn::prelude::*;
use rayon::prelude::*;
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// The host FFT as a Burn backend extension.
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait HostFftOps: Backend {
    /// `scale · F(x)` over the last two dimensions of the packed `[2, B, H, W]` tensor, where `F` is
    /// the unnormalised forward (or, with `inverse`, inverse) DFT, optionally centred.
    fn host_fft2(packed: FloatTensor<Self>, inverse: bool, centred: bool, scale: f64) -> FloatTensor<Self> {
        let device = packed.device();
        let shape = packed.shape();
        let dims: [usize; 4] = [shape[0], shape[1], shape[2], shape[3]];
        let data = read_sync(Self::float_into_data(packed)).expect("host FFT: reading the tensor failed");
        let mut values: Vec<f32> = data.convert::<f32>().try_into_vec::<f32>().expect("host FFT: f32 data");
        fft2_planes(&mut values, dims, inverse, centred, scale as f32);
        Self::float_from_data(TensorData::new(values, dims), &device)
    }
}

impl HostFftOps for burn::backend::Flex {}
impl HostFftOps for burn::backend::NdArray {}

impl<B: Backend + HostFftOps, C: CheckpointStrategy> HostFftOps for Autodiff<B, C> {
    fn host_fft2(packed: FloatTensor<Self>, inverse: bool, centred: bool, scale: f64) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct AdjointFft;

        impl<B: Backend + HostFftOps> Backward<B, 1> for AdjointFft {
            type State = (bool, bool, f64);

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                let (inverse, centred, scale) = ops.state;
                unary::<B, _>(ops.parents, ops.node, grads, |grad| B::host_fft2(grad, !inverse, centred, scale));
            }
        }

        let guard = packed.node();
        let out = B::host_fft2(packed.into_primitive(), inverse, centred, scale);
        match AdjointFft.prepare::<C>([guard]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((inverse, centred, scale), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }
}

/// Differentiable `scale · F(packed)` on a flex or ndarray device (autodiff or not).
pub(crate) fn host_fft2(packed: Tensor<4>, inverse: bool, centred: bool, scale: f64) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as HostFftOps>::host_fft2(packed.into_dispatch(), inverse, centred, scale))
}

/// Cached `rustfft` plans (planning is the expensive part for non-power-of-two sizes).
type PlanCache = Mutex<HashMap<(usize, bool), Arc<dyn Fft<f32>>>>;

fn plan(len: usize, inverse: bool) -> Arc<dyn Fft<f32>> {
    static PLANS: OnceLock<PlanCache> = OnceLock::new();
    let mut plans = PLANS.get_or_init(Default::default).lock().expect("FFT plan cache poisoned");
    plans
        .entry((len, inverse))
        .or_insert_with(|| {
            let mut planner = FftPlanner::new();
            if inverse { planner.plan_fft_inverse(len) } else { planner.plan_fft_forward(len) }
        })
        .clone()
}

/// In-place 2D transform of every image of the packed planes `values` (`[2, B, H, W]`, row-major).
/// One image per task on the rayon pool.
pub(crate) fn fft2_planes(values: &mut [f32], dims: [usize; 4], inverse: bool, centred: bool, scale: f32) {
    let [two, batch, h, w] = dims;
    assert_eq!(two, 2, "packed complex tensor must have 2 planes");
    let plane = h * w;
    let (re, im) = values.split_at_mut(batch * plane);
    let row_fft = plan(w, inverse);
    let col_fft = plan(h, inverse);
    let (sh, sw) = if centred { (h / 2, w / 2) } else { (0, 0) };
    // ifftshift on the way in reads x[(r + h/2) % h]; fftshift on the way out reads X[(k − h/2) mod h].
    let (rows_in, cols_in): (Vec<usize>, Vec<usize>) =
        ((0..h).map(|r| (r + sh) % h).collect(), (0..w).map(|c| (c + sw) % w).collect());
    let (rows_out, cols_out): (Vec<usize>, Vec<usize>) =
        ((0..h).map(|k| (k + h - sh) % h).collect(), (0..w).map(|l| (l + w - sw) % w).collect());
    re.par_chunks_mut(plane).zip(im.par_chunks_mut(plane)).for_each(|(re, im)| {
        let mut rows = Vec::with_capacity(plane);
        for &r in &rows_in {
            rows.extend(cols_in.iter().map(|&c| Complex32::new(re[r * w + c], im[r * w + c])));
        }
        row_fft.process(&mut rows);
        // Columns as contiguous rows of the transpose, then transformed in place.
        let mut columns = vec![Complex32::default(); plane];
        for (r, row) in rows.chunks_exact(w).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                columns[c * h + r] = v;
            }
        }
        col_fft.process(&mut columns);
        for (k, &src_k) in rows_out.iter().enumerate() {
            for (l, &src_l) in cols_out.iter().enumerate() {
                let v = columns[src_l * h + src_k] * scale;
                re[k * w + l] = v.re;
                im[k * w + l] = v.im;
            }
        }
    });
}
