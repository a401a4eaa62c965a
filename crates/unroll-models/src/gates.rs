//! Sigmoid and tanh whose backward pass keeps their output instead of their input.
//!
//! Burn's autodiff keeps the input of `sigmoid`/`tanh` and recomputes the output in the backward
//! pass. In a recurrent gate the output is kept anyway (the gate's products need it), so keeping the
//! input too costs one more activation per gate. Here, on `flex` with autodiff, the backward pass
//! uses `σ' = σ(1 − σ)` and `tanh' = 1 − tanh²` on the kept output, and the input is freed after the
//! forward pass. Elsewhere (no autodiff, wgpu, ndarray) these are Burn's functions.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, backend_extension};
use burn::prelude::*;
use burn::tensor::activation;

use crate::cpu_conv::on_flex;

/// `1 / (1 + e^{−x})`.
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    saturating(x, Saturating::Sigmoid)
}

/// `tanh(x)`.
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    saturating(x, Saturating::Tanh)
}

fn saturating<const D: usize>(x: Tensor<D>, kind: Saturating) -> Tensor<D> {
    let device = x.device();
    if !(device.is_autodiff() && on_flex(&device)) {
        return match kind {
            Saturating::Sigmoid => activation::sigmoid(x),
            Saturating::Tanh => activation::tanh(x),
        };
    }
    Tensor::from_dispatch(<Dispatch as OutputSaving>::saturating(x.into_dispatch(), kind))
}

/// Which saturating function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saturating {
    Sigmoid,
    Tanh,
}

impl Saturating {
    fn forward<B: Backend>(self, x: FloatTensor<B>) -> FloatTensor<B> {
        match self {
            Saturating::Sigmoid => B::sigmoid(x),
            Saturating::Tanh => B::float_tanh(x),
        }
    }

    /// The derivative from the output `y`: `y(1 − y)` or `1 − y²`.
    fn derivative<B: Backend>(self, y: FloatTensor<B>) -> FloatTensor<B> {
        let one_minus = |t: FloatTensor<B>| B::float_add_scalar(B::float_neg(t), 1f32.into());
        match self {
            Saturating::Sigmoid => B::float_mul(y.clone(), one_minus(y)),
            Saturating::Tanh => one_minus(B::float_mul(y.clone(), y)),
        }
    }
}

/// The functions of the module docs as a backend extension (flex, and autodiff over flex).
#[backend_extension(Flex, Autodiff)]
pub trait OutputSaving: Backend {
    fn saturating(x: FloatTensor<Self>, kind: Saturating) -> FloatTensor<Self>;
}

impl OutputSaving for Flex {
    fn saturating(x: FloatTensor<Self>, kind: Saturating) -> FloatTensor<Self> {
        kind.forward::<Flex>(x)
    }
}

impl<C: CheckpointStrategy> OutputSaving for Autodiff<Flex, C> {
    fn saturating(x: FloatTensor<Self>, kind: Saturating) -> FloatTensor<Self> {
        match SaturatingBackward(kind).prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let y = kind.forward::<Flex>(x.primitive().clone());
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(kind.forward::<Flex>(x.into_primitive())),
        }
    }
}

#[derive(Debug)]
struct SaturatingBackward(Saturating);

impl Backward<Flex, 1> for SaturatingBackward {
    /// The output.
    type State = FloatTensor<Flex>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        if let [Some(parent)] = ops.parents {
            grads.register::<Flex>(parent.id, Flex::float_mul(grad, self.0.derivative::<Flex>(ops.state)));
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;

    #[test]
    fn output_saving_gates_match_burns_values_and_gradients() {
        for device in [Device::flex().autodiff(), Device::flex().autodiff().gradient_checkpointing()] {
            let x = Tensor::<3>::random([2, 5, 7], Distribution::Normal(0.0, 3.0), &device).require_grad();
            let weights = x.random_like(Distribution::Normal(0.0, 1.0)).detach();
            for (ours, theirs) in
                [(sigmoid(x.clone()), activation::sigmoid(x.clone())), (tanh(x.clone()), activation::tanh(x.clone()))]
            {
                let error = (ours.clone() - theirs.clone()).abs().max().into_scalar::<f32>();
                assert!(error < 1e-6, "values differ by {error}");
                let (g_ours, g_theirs) =
                    ((ours * weights.clone()).sum().backward(), (theirs * weights.clone()).sum().backward());
                let error = (x.grad(&g_ours).unwrap() - x.grad(&g_theirs).unwrap()).abs().max().into_scalar::<f32>();
                assert!(error < 1e-5, "gradients differ by {error}");
            }
        }
        // Without autodiff they are Burn's functions.
        let x = Tensor::<2>::random([3, 4], Distribution::Normal(0.0, 2.0), &Device::flex());
        assert_eq!(sigmoid(x.clone()).into_data(), activation::sigmoid(x).into_data());
    }
}
