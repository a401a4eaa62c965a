//! Learned proximal networks (LPN; Fang, Buchanan & Sulam, ICLR 2024; spec `lpn.md` §2): a
//! denoiser that is exactly a proximal operator, `f(x) = ∇ψ(x)` with ψ an input-convex network.
//!
//! ψ: `[N, C, H, W] → [N]`, for the strides `s_1 … s_L` of the [`IcnnLayout`]:
//! - `a_0 = σ(W_0 * x + b_0)` (3×3, stride 1, padding 1);
//! - `a_l = σ(W_lᶻ * a_{l−1} + W_lˣ * D_{r_l} x + b_l)` (3×3, stride `s_l`, padding 1), where
//!   `r_l = s_1⋯s_{l−1}` and `D_r` resizes bilinearly by `1/r` (PyTorch's `interpolate` with
//!   `align_corners = False`, which for an integer factor is a strided convolution with a fixed
//!   kernel, see [`downsample`]);
//! - the head `h = σ(W_Hᶻ * a_L + W_Hˣ * D_R x + b_H)`, an `H/R × W/R` kernel without padding to
//!   [`HEAD_FEATURES`] features at 1×1, `R = s_1⋯s_L`;
//! - `ψ(x) = w·mean_pixels(h) + b + α‖x‖²`.
//!
//! σ is softplus of sharpness β. The z-path weights `W_lᶻ`, `W_Hᶻ` and `w` start at
//! `exp(N(−10, 0.1))` and are clamped to `≥ 0` after every optimiser step ([`Lpn::project`]);
//! with σ convex and non-decreasing, ψ is then convex in x, and `f = ∇ψ` is the prox of some
//! function R. Burn has no double backward, so [`Lpn::prox`] writes `∇ψ` out as a forward
//! computation (the network's backward pass: transposed convolutions, `σ′(t) = sigmoid(βt)`, the
//! resize's adjoint) which ordinary autodiff trains.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{sigmoid, softplus};
use burn::tensor::module::{conv_transpose2d, conv2d as fixed_conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use serde::{Deserialize, Serialize};
use unroll_physics::{LinearOperator, Signal};

use crate::cpu_conv::conv2d;
use crate::reconstructor::Reconstructor;

/// Features of the ICNN's head (the reference's 64).
pub const HEAD_FEATURES: usize = 64;

/// The reference ICNN architectures (spec §2.2), which differ in depth and biases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IcnnLayout {
    /// `lpn_128` and its 64×64-patch variant: strides 2, 1, 2, 1, 2 (sizes divisible by 8), a
    /// bias on the first convolution and on the output; hidden 256, β 100, α 1e-6 by default.
    #[default]
    Patch,
    /// `lpn_mnist`: strides 2, 1, 2 (sizes divisible by 4), no bias on the first convolution or
    /// the output; hidden 64, β 10, α 0.01 by default.
    Mnist,
}

impl IcnnLayout {
    /// The strides of the hidden layers after the first convolution.
    pub fn strides(self) -> &'static [usize] {
        match self {
            IcnnLayout::Patch => &[2, 1, 2, 1, 2],
            IcnnLayout::Mnist => &[2, 1, 2],
        }
    }

    /// By how much the head's input is smaller than the image: the product of the strides.
    pub fn reduction(self) -> usize {
        self.strides().iter().product()
    }

    /// Whether the first convolution and the output have a bias.
    fn biased_ends(self) -> bool {
        self == IcnnLayout::Patch
    }

    /// The reference's hidden channels, β and α.
    fn defaults(self) -> (usize, f64, f64) {
        match self {
            IcnnLayout::Patch => (256, 100.0, 1e-6),
            IcnnLayout::Mnist => (64, 10.0, 0.01),
        }
    }
}

/// The LPN's hyperparameters; those left out take the layout's reference values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LpnConfig {
    /// The ICNN architecture.
    #[serde(default)]
    pub layout: IcnnLayout,
    /// Channels of the hidden layers.
    #[serde(default)]
    pub hidden: Option<usize>,
    /// Softplus sharpness β.
    #[serde(default)]
    pub beta: Option<f64>,
    /// Weight α of the strongly convex term `α‖x‖²`.
    #[serde(default)]
    pub alpha: Option<f64>,
}

impl LpnConfig {
    /// Hidden channels, β and α, the layout's defaults filled in.
    pub fn resolved(&self) -> (usize, f64, f64) {
        let (hidden, beta, alpha) = self.layout.defaults();
        (self.hidden.unwrap_or(hidden), self.beta.unwrap_or(beta), self.alpha.unwrap_or(alpha))
    }

    /// Checks the hyperparameters.
    pub fn validate(&self) -> Result<(), String> {
        let (hidden, beta, alpha) = self.resolved();
        if hidden == 0 {
            return Err("model.hidden must be at least 1".into());
        }
        if !(beta.is_finite() && beta > 0.0) {
            return Err(format!("model.beta must be finite and positive, got {beta}"));
        }
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(format!("model.alpha must be finite and non-negative, got {alpha}"));
        }
        Ok(())
    }

    /// Checks that images of `[h, w]` fit the layout: both sides divisible by its reduction.
    pub fn check_image(&self, [h, w]: [usize; 2]) -> Result<(), String> {
        let r = self.layout.reduction();
        if h.is_multiple_of(r) && w.is_multiple_of(r) && h >= r && w >= r {
            Ok(())
        } else {
            Err(format!(
                "model `lpn` ({:?} layout) needs image sides divisible by {r}, got {h}×{w}; \
                 crop the images (data.crop) to such a size",
                self.layout
            ))
        }
    }

    /// The network for `channels`-channel images of `[h, w]` (which [`Self::check_image`] accepted).
    pub fn init(&self, channels: usize, [h, w]: [usize; 2], device: &Device) -> Lpn {
        let (hidden, beta, alpha) = self.resolved();
        let r = self.layout.reduction();
        let biased = self.layout.biased_ends();
        let conv = |from: usize, to: usize, kernel: [usize; 2], stride: usize, bias: bool| {
            let padding = if kernel == [3, 3] { PaddingConfig2d::Explicit(1, 1, 1, 1) } else { PaddingConfig2d::Valid };
            Conv2dConfig::new([from, to], kernel)
                .with_stride([stride; 2])
                .with_padding(padding)
                .with_bias(bias)
                .init(device)
        };
        let positive = |mut conv: Conv2d| {
            conv.weight = Param::from_tensor(positive_weights(conv.weight.dims(), device));
            conv
        };
        let layer = |from: usize, to: usize, kernel: [usize; 2], stride: usize| IcnnLayer {
            z: positive(conv(from, to, kernel, stride, false)),
            x: conv(channels, to, kernel, stride, true),
        };
        let mut layers: Vec<IcnnLayer> =
            self.layout.strides().iter().map(|&stride| layer(hidden, hidden, [3, 3], stride)).collect();
        layers.push(layer(hidden, HEAD_FEATURES, [h / r, w / r], 1));
        Lpn {
            first: conv(channels, hidden, [3, 3], 1, biased),
            layers,
            output_weight: Param::from_tensor(positive_weights([HEAD_FEATURES], device)),
            output_bias: biased.then(|| Param::from_tensor(Tensor::zeros([1], device))),
            beta,
            alpha,
        }
    }
}

/// `exp(N(−10, 0.1))`: the reference's start for the non-negative weights.
fn positive_weights<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(-10.0, 0.1), device).exp()
}

/// One ICNN layer: the non-negative z-path convolution (no bias) and the unconstrained x-path
/// convolution (with bias) on the resized input.
#[derive(Module, Debug)]
pub struct IcnnLayer {
    z: Conv2d,
    x: Conv2d,
}

/// The learned proximal network (see the module docs).
#[derive(Module, Debug)]
pub struct Lpn {
    first: Conv2d,
    /// The hidden layers, the head last.
    layers: Vec<IcnnLayer>,
    /// `w ≥ 0`, `[HEAD_FEATURES]`.
    output_weight: Param<Tensor<1>>,
    output_bias: Option<Param<Tensor<1>>>,
    beta: f64,
    alpha: f64,
}

impl Lpn {
    /// The resize factor `r_l` of the x-path input of each layer (the head's last).
    fn factors(&self) -> Vec<usize> {
        let mut r = 1;
        self.layers
            .iter()
            .map(|layer| {
                let here = r;
                r *= layer.z.stride[0];
                here
            })
            .collect()
    }

    /// The pre-activations of one evaluation of ψ: `t_0 … t_L`, then the head's.
    fn pass(&self, x: &Tensor<4>) -> Vec<Tensor<4>> {
        let mut pre = vec![conv2d(&self.first, x.clone())];
        for (layer, r) in self.layers.iter().zip(self.factors()) {
            let a = softplus(pre.last().expect("first").clone(), self.beta);
            pre.push(conv2d(&layer.z, a) + conv2d(&layer.x, downsample(x.clone(), r)));
        }
        pre
    }

    /// `ψ(x)` from the head's pre-activation.
    fn potential_from(&self, x: &Tensor<4>, head: Tensor<4>) -> Tensor<1> {
        let n = x.dims()[0];
        let pooled = softplus(head, self.beta).mean_dim(3).mean_dim(2).reshape([n, HEAD_FEATURES]);
        let mut psi = pooled.matmul(self.output_weight.val().reshape([HEAD_FEATURES, 1])).reshape([n]);
        if let Some(bias) = &self.output_bias {
            psi = psi + bias.val();
        }
        psi + Signal::dot(x, x).mul_scalar(self.alpha)
    }

    /// `∇ψ(x)` from the pre-activations of [`Self::pass`]: the backward pass of ψ written out.
    fn gradient_from(&self, x: &Tensor<4>, mut pre: Vec<Tensor<4>>) -> Tensor<4> {
        let beta = self.beta;
        let slope = |t: Tensor<4>| sigmoid(t.mul_scalar(beta));
        let head = pre.pop().expect("head");
        let [_, _, ho, wo] = head.dims();
        let w = self.output_weight.val().reshape([1, HEAD_FEATURES, 1, 1]).div_scalar((ho * wo) as f64);
        // δ = ∂ψ/∂t for the pre-activation t of the current layer, from the head down.
        let mut delta = slope(head) * w;
        let mut gradient = x.clone().mul_scalar(2.0 * self.alpha);
        for (layer, r) in self.layers.iter().zip(self.factors()).rev() {
            let below = pre.pop().expect("one pre-activation per layer");
            let size = below.dims();
            gradient = gradient + downsample_adjoint(transposed(&layer.x, delta.clone(), size), r);
            delta = transposed(&layer.z, delta, size) * slope(below);
        }
        gradient + transposed(&self.first, delta, x.dims())
    }

    /// `ψ(x)` per sample: `[N, C, H, W] → [N]`.
    pub fn potential(&self, x: Tensor<4>) -> Tensor<1> {
        let head = self.pass(&x).pop().expect("head");
        self.potential_from(&x, head)
    }

    /// The learned prox `f(x) = ∇ψ(x)`, `[N, C, H, W] → [N, C, H, W]`: the backward pass of ψ as a
    /// forward computation (see the module docs), differentiable in the weights.
    pub fn prox(&self, x: Tensor<4>) -> Tensor<4> {
        let pre = self.pass(&x);
        self.gradient_from(&x, pre)
    }

    /// `ψ(x)` and `∇ψ(x)` from one evaluation of the network.
    pub fn potential_and_prox(&self, x: Tensor<4>) -> (Tensor<1>, Tensor<4>) {
        let pre = self.pass(&x);
        let psi = self.potential_from(&x, pre.last().expect("head").clone());
        (psi, self.gradient_from(&x, pre))
    }

    /// Inverts the prox: `y` with `f(y) ≈ x`, the minimiser of the convex `Φ(y) = ψ(y) − ⟨x, y⟩`
    /// (spec §2.3's `cvx` inversion), by gradient descent from `y₀ = x` (the gradient is
    /// `f(y) − x`), all samples at once: per sample, a Barzilai–Borwein step backtracked until
    /// `Φ` decreases enough (Armijo, with a slack of f32 rounding). Stops after `iterations` steps
    /// or once every sample's `‖f(y) − x‖ ≤ tolerance·‖x‖`. Returns `y` and `f(y)`. Run it without
    /// autodiff.
    pub fn invert(&self, x: Tensor<4>, iterations: usize, tolerance: f64) -> (Tensor<4>, Tensor<4>) {
        let n = x.dims()[0];
        // Φ and f at a point, from one evaluation of the network.
        let evaluate = |y: &Tensor<4>| {
            let (psi, fy) = self.potential_and_prox(y.clone());
            (psi - Signal::dot(&x, y), fy)
        };
        let limit = Signal::dot(&x, &x).sqrt().mul_scalar(tolerance);
        let mut y = x.clone();
        let (mut value, mut fy) = evaluate(&y);
        let mut gradient = fy.clone() - x.clone();
        let mut step = Tensor::<1>::ones([n], &x.device());
        for _ in 0..iterations {
            let squared = Signal::dot(&gradient, &gradient);
            if squared.clone().sqrt().lower_equal(limit.clone()).all().into_scalar::<bool>() {
                break;
            }
            let mut next = y.clone() - gradient.clone().mul_per_sample(step.clone());
            let (mut next_value, mut next_fy) = evaluate(&next);
            for _ in 0..30 {
                let slack = value.clone().abs().mul_scalar(1e-6);
                let enough =
                    (value.clone() - squared.clone() * step.clone() * 1e-4 + slack).greater_equal(next_value.clone());
                if enough.clone().all().into_scalar::<bool>() {
                    break;
                }
                step = step.clone().mask_where(enough.bool_not(), step * 0.5);
                next = y.clone() - gradient.clone().mul_per_sample(step.clone());
                (next_value, next_fy) = evaluate(&next);
            }
            let next_gradient = next_fy.clone() - x.clone();
            // The next trial: the BB1 step ⟨s, s⟩/⟨s, Δg⟩ (positive as ψ is convex).
            let s = next.clone() - y;
            let curvature = Signal::dot(&s, &(next_gradient.clone() - gradient)).clamp_min(1e-12);
            step = (Signal::dot(&s, &s) / curvature).clamp(1e-3, 1e3);
            (y, fy, gradient, value) = (next, next_fy, next_gradient, next_value);
        }
        (y, fy)
    }

    /// The learned regulariser at `x̂ = f(y)`, whose prox `f` is (spec §2.3):
    /// `R(x̂) = ⟨y, x̂⟩ − ½‖x̂‖² − ψ(y)`, per sample `[N]`.
    pub fn regulariser_at(&self, y: Tensor<4>, fy: Tensor<4>) -> Tensor<1> {
        Signal::dot(&y, &fy) - Signal::dot(&fy, &fy).mul_scalar(0.5) - self.potential(y)
    }

    /// Clamps the z-path weights to `≥ 0` (call after every optimiser step).
    pub fn project(mut self) -> Self {
        for layer in &mut self.layers {
            layer.z.weight = layer.z.weight.clone().map(clamp_non_negative);
        }
        self.output_weight = self.output_weight.map(clamp_non_negative);
        self
    }
}

/// `max(w, 0)` as a fresh leaf that keeps `w`'s autodiff setting.
fn clamp_non_negative<const D: usize>(w: Tensor<D>) -> Tensor<D> {
    let (autodiff, require_grad) = (w.is_autodiff(), w.is_require_grad());
    let clamped = w.inner().clamp_min(0.0);
    let clamped = if autodiff { clamped.autodiff() } else { clamped };
    if require_grad { clamped.require_grad() } else { clamped }
}

/// The adjoint of `conv` (its bias left out) applied to `delta`, giving a tensor of `input` dims.
fn transposed(conv: &Conv2d, delta: Tensor<4>, input: [usize; 4]) -> Tensor<4> {
    let [kh, kw] = conv.kernel_size;
    let [sh, sw] = conv.stride;
    let (ph, pw) = match conv.padding {
        PaddingConfig2d::Explicit(top, left, ..) => (top, left),
        _ => (0, 0),
    };
    let [_, _, oh, ow] = delta.dims();
    let pad_out = [input[2] + 2 * ph - ((oh - 1) * sh + kh), input[3] + 2 * pw - ((ow - 1) * sw + kw)];
    conv_transpose2d(delta, conv.weight.val(), None, ConvTransposeOptions::new([sh, sw], [ph, pw], pad_out, [1, 1], 1))
}

/// The per-axis taps of bilinear downsampling by an integer `factor` (`align_corners = False`):
/// output pixel `i` reads the source coordinate `factor·i + (factor − 1)/2`.
fn resize_taps(factor: usize) -> Vec<f32> {
    let centre = (factor as f32 - 1.0) / 2.0;
    (0..factor).map(|j| (1.0 - (j as f32 - centre).abs()).max(0.0)).collect()
}

/// The `[1, 1, factor, factor]` kernel of [`downsample`]: the outer product of [`resize_taps`].
fn resize_kernel(factor: usize, device: &Device) -> Tensor<4> {
    let taps = resize_taps(factor);
    let kernel: Vec<f32> = taps.iter().flat_map(|a| taps.iter().map(move |b| a * b)).collect();
    Tensor::from_data(TensorData::new(kernel, [1, 1, factor, factor]), device)
}

/// `[N, C, factor·h, factor·w] ↦ [N, C, h, w]`, bilinear (see [`resize_taps`]); `factor = 1` is
/// the identity.
pub fn downsample(x: Tensor<4>, factor: usize) -> Tensor<4> {
    if factor == 1 {
        return x;
    }
    let [n, c, h, w] = x.dims();
    let kernel = resize_kernel(factor, &x.device());
    let options = ConvOptions::new([factor; 2], [0, 0], [1, 1], 1);
    fixed_conv2d(x.reshape([n * c, 1, h, w]), kernel, None, options).reshape([n, c, h / factor, w / factor])
}

/// The adjoint of [`downsample`]: `[N, C, h, w] ↦ [N, C, factor·h, factor·w]`.
pub fn downsample_adjoint(y: Tensor<4>, factor: usize) -> Tensor<4> {
    if factor == 1 {
        return y;
    }
    let [n, c, h, w] = y.dims();
    let kernel = resize_kernel(factor, &y.device());
    let options = ConvTransposeOptions::new([factor; 2], [0, 0], [0, 0], [1, 1], 1);
    conv_transpose2d(y.reshape([n * c, 1, h, w]), kernel, None, options).reshape([n, c, h * factor, w * factor])
}

/// LPN as a reconstructor: the learned prox of `Aᴴy` (for denoising, `A = I`: the prox of the
/// noisy image).
impl<Op: LinearOperator> Reconstructor<Op> for Lpn {
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain> {
        vec![Op::Domain::from_channels(self.prox(op.adjoint(y).to_channels()))]
    }
}

/// The 1-D LPN of the reference's Laplacian toy (spec §2.2): `ψ: ℝ → ℝ` with `a_0 = σ(w_0 x)`,
/// `a_l = σ(W_lᶻ a_{l−1} + w_lˣ x + b_l)` for `l = 1 … layers`, and
/// `ψ = w_outᶻ·a_L + w_outˣ x + b_out` (no `α` term), σ softplus of sharpness β. The z-path
/// weights (`W_lᶻ`, `w_outᶻ`) are non-negative as in [`Lpn`]; [`ScalarLpn::prox`] is `ψ′` written
/// out.
#[derive(Module, Debug)]
pub struct ScalarLpn {
    /// `w_0`, `[1, width]`.
    first: Param<Tensor<2>>,
    /// `W_lᶻ`, `[width, width]`.
    z: Vec<Param<Tensor<2>>>,
    /// `w_lˣ`, `[1, width]`.
    x: Vec<Param<Tensor<2>>>,
    /// `b_l`, `[width]`.
    bias: Vec<Param<Tensor<1>>>,
    /// `w_outᶻ`, `[width, 1]`.
    out_z: Param<Tensor<2>>,
    /// `w_outˣ`, `[1]`.
    out_x: Param<Tensor<1>>,
    /// `b_out`, `[1]`.
    out_bias: Param<Tensor<1>>,
    beta: f64,
}

impl ScalarLpn {
    /// The reference's toy: `width` 50, `layers` 4, β 10. The unconstrained weights are drawn as
    /// PyTorch's `Linear` draws them (uniform in `±1/√fan_in`, fan-in 1 here), the z-path as in
    /// [`Lpn`].
    pub fn new(width: usize, layers: usize, beta: f64, device: &Device) -> Self {
        fn uniform<const D: usize>(shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
            Param::from_tensor(Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), device))
        }
        ScalarLpn {
            first: uniform([1, width], device),
            z: (0..layers).map(|_| Param::from_tensor(positive_weights([width, width], device))).collect(),
            x: (0..layers).map(|_| uniform([1, width], device)).collect(),
            bias: (0..layers).map(|_| uniform([width], device)).collect(),
            out_z: Param::from_tensor(positive_weights([width, 1], device)),
            out_x: uniform([1], device),
            out_bias: uniform([1], device),
            beta,
        }
    }

    /// The pre-activations `t_0 … t_L`, each `[N, width]`, of `x` `[N, 1]`.
    fn pass(&self, x: &Tensor<2>) -> Vec<Tensor<2>> {
        let mut pre = vec![x.clone().matmul(self.first.val())];
        for ((z, wx), b) in self.z.iter().zip(&self.x).zip(&self.bias) {
            let a = softplus(pre.last().expect("first").clone(), self.beta);
            pre.push(a.matmul(z.val()) + x.clone().matmul(wx.val()) + b.val().unsqueeze());
        }
        pre
    }

    /// `ψ(x)`, `[N, 1] → [N, 1]`.
    pub fn potential(&self, x: Tensor<2>) -> Tensor<2> {
        let last = softplus(self.pass(&x).pop().expect("layers"), self.beta);
        last.matmul(self.out_z.val()) + x * self.out_x.val().unsqueeze() + self.out_bias.val().unsqueeze()
    }

    /// The learned prox `ψ′(x)`, `[N, 1] → [N, 1]`.
    pub fn prox(&self, x: Tensor<2>) -> Tensor<2> {
        let mut pre = self.pass(&x);
        let slope = |t: Tensor<2>| sigmoid(t.mul_scalar(self.beta));
        let n = x.dims()[0];
        let mut delta = slope(pre.pop().expect("layers")) * self.out_z.val().transpose();
        let mut gradient = self.out_x.val().unsqueeze::<2>().expand([n as i64, 1]);
        for (z, wx) in self.z.iter().zip(&self.x).rev() {
            gradient = gradient + delta.clone().matmul(wx.val().transpose());
            delta = delta.matmul(z.val().transpose()) * slope(pre.pop().expect("one per layer"));
        }
        gradient + delta.matmul(self.first.val().transpose())
    }

    /// Clamps the z-path weights to `≥ 0` (call after every optimiser step).
    pub fn project(mut self) -> Self {
        self.z = self.z.into_iter().map(|z| z.map(clamp_non_negative)).collect();
        self.out_z = self.out_z.map(clamp_non_negative);
        self
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::GradientsParams;

    use super::*;

    fn values(t: Tensor<4>) -> Vec<f64> {
        t.into_data().convert::<f64>().try_into_vec::<f64>().unwrap()
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// A small LPN on `[2, 16, 16]` images whose non-negative weights are drawn as
    /// `|N(0, 1/fan_in)|`: the reference's `exp(−10)` start leaves the z-path all but off, which
    /// would test nothing, and weights whose sum exceeds 1 grow the activations layer by layer
    /// until the deeper softplus units saturate (their σ″ vanishes in f32).
    fn small(layout: IcnnLayout, device: &Device) -> Lpn {
        device.seed(5);
        let config = LpnConfig { layout, hidden: Some(6), beta: Some(4.0), alpha: Some(0.05) };
        let mut lpn = config.init(2, [16, 16], device);
        let draw = |w: Tensor<4>| {
            let fan_in = w.dims()[1..].iter().product::<usize>() as f64;
            w.random_like(Distribution::Normal(0.0, 1.0 / fan_in)).abs()
        };
        for layer in &mut lpn.layers {
            layer.z.weight = Param::from_tensor(draw(layer.z.weight.val()));
        }
        lpn.output_weight = Param::from_tensor(lpn.output_weight.val().random_like(Distribution::Uniform(0.5, 1.5)));
        lpn
    }

    #[test]
    fn parameter_counts_match_the_reference_networks() {
        let device = Device::flex();
        let patch = LpnConfig::default();
        assert_eq!(patch.init(1, [64, 64], &device).num_params(), 4_017_281);
        assert_eq!(patch.init(1, [128, 128], &device).num_params(), 7_175_297);
        let mnist = LpnConfig { layout: IcnnLayout::Mnist, ..Default::default() };
        assert_eq!(mnist.init(1, [28, 28], &device).num_params(), 317_056);
    }

    #[test]
    fn downsampling_is_bilinear_and_its_adjoint_is_exact() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        // Factor 2 averages 2×2 blocks; factor 4 averages the middle 2×2 of each 4×4 block.
        let pooled = burn::tensor::module::avg_pool2d(x.clone(), burn::tensor::ops::AvgPoolOptions::new([2, 2]));
        let error = (downsample(x.clone(), 2) - pooled).abs().max().into_scalar::<f64>();
        assert!(error < 1e-6, "factor 2 differs from 2×2 averaging by {error}");
        let middle = x.clone().slice([0..2, 0..3, 1..3, 1..3]).mean_dim(3).mean_dim(2).reshape([2, 3]);
        let corner = downsample(x.clone(), 4).slice([0..2, 0..3, 0..1, 0..1]).reshape([2, 3]);
        assert!((corner - middle).abs().max().into_scalar::<f64>() < 1e-6);
        for factor in [2, 4, 8] {
            let y = Tensor::<4>::random([2, 3, 8 / factor, 8 / factor], Distribution::Normal(0.0, 1.0), &device);
            let (ax, ay) = (values(downsample(x.clone(), factor)), values(y.clone()));
            let (x_, aty) = (values(x.clone()), values(downsample_adjoint(y, factor)));
            let (lhs, rhs) = (dot(&ax, &ay), dot(&x_, &aty));
            assert!((lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0), "factor {factor}: ⟨Dx, y⟩ {lhs} ≠ ⟨x, Dᵀy⟩ {rhs}");
        }
    }

    /// The hand-written `∇ψ` equals Burn's first-order gradient of ψ and central differences.
    #[test]
    fn the_prox_is_the_gradient_of_the_potential() {
        let device = Device::flex().autodiff();
        for layout in [IcnnLayout::Patch, IcnnLayout::Mnist] {
            let lpn = small(layout, &device);
            let x = Tensor::<4>::random([2, 2, 16, 16], Distribution::Uniform(0.0, 1.0), &device);
            let explicit = values(lpn.prox(x.clone()));
            let tracked = x.clone().require_grad();
            let grads = lpn.potential(tracked.clone()).sum().backward();
            let autodiff = values(tracked.grad(&grads).unwrap());
            let scale = autodiff.iter().fold(0f64, |m, v| m.max(v.abs()));
            let error = explicit.iter().zip(&autodiff).fold(0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(error < 1e-4 * scale, "{layout:?}: ∇ψ differs from autodiff by {error} (scale {scale})");
            // The directional derivative along v, per sample, by central differences.
            let v = x.random_like(Distribution::Normal(0.0, 1.0));
            let eps = 1e-2;
            let psi = |t: Tensor<4>| lpn.potential(t).into_data().convert::<f64>().try_into_vec::<f64>().unwrap();
            let (plus, minus) = (psi(x.clone() + v.clone() * eps), psi(x.clone() - v.clone() * eps));
            let (v, per) = (values(v), 2 * 16 * 16);
            for n in 0..2 {
                let numeric = (plus[n] - minus[n]) / (2.0 * eps);
                let analytic = dot(&explicit[n * per..(n + 1) * per], &v[n * per..(n + 1) * per]);
                assert!(
                    (numeric - analytic).abs() < 2e-2 * analytic.abs().max(1.0),
                    "{layout:?} sample {n}: finite differences {numeric}, ∇ψ·v {analytic}"
                );
            }
        }
    }

    /// After [`Lpn::project`] the weights of the z-path are non-negative and `f = ∇ψ` is monotone,
    /// `⟨f(a) − f(b), a − b⟩ ≥ 0`, as the gradient of a convex function is; negative z-path weights
    /// break it.
    #[test]
    fn projection_makes_the_potential_convex() {
        let device = Device::flex();
        let mut lpn = small(IcnnLayout::Patch, &device);
        lpn.alpha = 0.0;
        for layer in &mut lpn.layers {
            layer.z.weight = Param::from_tensor(layer.z.weight.val() - 0.2);
        }
        lpn.output_weight = Param::from_tensor(lpn.output_weight.val() - 1.0);
        let monotonicity = |lpn: &Lpn| {
            device.seed(9);
            let a = Tensor::<4>::random([16, 2, 16, 16], Distribution::Uniform(0.0, 1.0), &device);
            let b = Tensor::<4>::random([16, 2, 16, 16], Distribution::Uniform(0.0, 1.0), &device);
            let change = (lpn.prox(a.clone()) - lpn.prox(b.clone())) * (a - b);
            change.sum_dim(3).sum_dim(2).sum_dim(1).min().into_scalar::<f64>()
        };
        assert!(monotonicity(&lpn) < 0.0, "negative weights should make some pair non-monotone");
        let lpn = lpn.project();
        for layer in &lpn.layers {
            assert!(layer.z.weight.val().min().into_scalar::<f64>() >= 0.0);
        }
        assert!(lpn.output_weight.val().min().into_scalar::<f64>() >= 0.0);
        assert!(monotonicity(&lpn) >= -1e-6);
    }

    /// The inversion finds `y` with `f(y) = x`, and the regulariser it gives makes `f` its prox:
    /// `x̂ = f(y)` minimises `½‖z − y‖² + R(z)` against nearby `z` (each inverted in turn).
    #[test]
    fn the_regulariser_has_the_network_as_its_prox() {
        let device = Device::flex();
        let lpn = small(IcnnLayout::Patch, &device);
        let x = Tensor::<4>::random([3, 2, 16, 16], Distribution::Uniform(0.0, 1.0), &device);
        let (y, fy) = lpn.invert(x.clone(), 500, 1e-5);
        let residual = (fy.clone() - x.clone()).abs().max().into_scalar::<f64>();
        assert!(residual < 1e-3, "‖f(y) − x‖∞ = {residual}");
        let objective = |z: Tensor<4>| {
            let (yz, fz) = lpn.invert(z, 500, 1e-5);
            let distance = (fz.clone() - y.clone()).square().sum_dim(3).sum_dim(2).sum_dim(1).reshape([3]);
            values4(distance.mul_scalar(0.5) + lpn.regulariser_at(yz, fz))
        };
        let at_prox = objective(fy.clone());
        for seed in 0..3 {
            device.seed(100 + seed);
            let nearby = fy.clone() + fy.random_like(Distribution::Normal(0.0, 0.05));
            for (n, (best, other)) in at_prox.iter().zip(objective(nearby)).enumerate() {
                assert!(*best <= other + 1e-4, "sample {n}: {best} at f(y), {other} nearby");
            }
        }
    }

    /// The toy's hand-written `ψ′` equals Burn's gradient of ψ, before and after training-like
    /// weights (z-path `|N(0, 0.3)|`).
    #[test]
    fn the_scalar_prox_is_the_derivative_of_its_potential() {
        let device = Device::flex().autodiff();
        device.seed(2);
        let mut toy = ScalarLpn::new(12, 3, 10.0, &device);
        toy.z = toy
            .z
            .into_iter()
            .map(|z| Param::from_tensor(z.val().random_like(Distribution::Normal(0.0, 0.3)).abs()))
            .collect();
        toy.out_z = Param::from_tensor(toy.out_z.val().random_like(Distribution::Uniform(0.2, 1.0)));
        let x = Tensor::<2>::random([64, 1], Distribution::Uniform(-4.0, 4.0), &device);
        let explicit = toy.prox(x.clone()).into_data().convert::<f64>().try_into_vec::<f64>().unwrap();
        let tracked = x.require_grad();
        let grads = toy.potential(tracked.clone()).sum().backward();
        let autodiff = tracked.grad(&grads).unwrap().into_data().convert::<f64>().try_into_vec::<f64>().unwrap();
        for (a, b) in explicit.iter().zip(&autodiff) {
            assert!((a - b).abs() < 1e-4 * b.abs().max(1.0), "ψ′ {a}, autodiff {b}");
        }
    }

    fn values4(t: Tensor<1>) -> Vec<f64> {
        t.into_data().convert::<f64>().try_into_vec::<f64>().unwrap()
    }

    /// Training through the explicit gradient reaches every parameter, and projection keeps the
    /// parameters trainable leaves.
    #[test]
    fn gradients_reach_every_parameter_through_the_prox() {
        let device = Device::flex().autodiff();
        let lpn = small(IcnnLayout::Mnist, &device).project();
        let x = Tensor::<4>::random([2, 2, 16, 16], Distribution::Uniform(0.0, 1.0), &device);
        let loss = (lpn.prox(x.clone()) - x * 0.5).abs().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &lpn);
        struct Check<'a>(&'a GradientsParams, usize);
        impl burn::module::ModuleVisitor for Check<'_> {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                let grad = self.0.get::<D>(param.id).map(|g| g.abs().sum().into_scalar::<f64>());
                assert!(grad.is_some_and(|g| g > 0.0), "parameter {} of {:?}: no gradient", self.1, param.dims());
                self.1 += 1;
            }
        }
        let mut check = Check(&grads, 0);
        lpn.visit(&mut check);
        assert_eq!(check.1, 1 + 3 * 4 + 1, "first conv (weight), 4 layers (z weight, x weight and bias), output");
    }
}
