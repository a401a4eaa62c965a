//! Operators that are diagonal or dense matrices: inpainting, identity (denoising) and compressed
//! sensing. Images are real `[N, C, H, W]`.

use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::operator::LinearOperator;

/// Pixel-mask inpainting `A x = M ⊙ x` with a 0/1 mask `[N|1, 1|C, H, W]`; the measurement keeps the
/// image's shape (missing pixels are zero).
#[derive(Clone, Debug)]
pub struct Inpainting {
    mask: Tensor<4>,
}

impl Inpainting {
    /// Inpainting with the given binary mask (1 = observed).
    pub fn new(mask: Tensor<4>) -> Self {
        Self { mask }
    }

    /// The observation mask.
    pub fn mask(&self) -> &Tensor<4> {
        &self.mask
    }
}

impl LinearOperator for Inpainting {
    type Domain = Tensor<4>;
    type Range = Tensor<4>;

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        x * self.mask.clone()
    }

    fn adjoint(&self, y: Tensor<4>) -> Tensor<4> {
        y * self.mask.clone()
    }

    /// Closed form (`M² = M`): `x = (z + γ M y) / (1 + γ M)`.
    fn prox_l2(&self, z: Tensor<4>, y: Tensor<4>, gamma: Tensor<1>) -> Tensor<4> {
        let gamma_mask = self.mask.clone() * gamma.unsqueeze_dims::<4>(&[1, 2, 3]);
        (z + y * gamma_mask.clone()) / (gamma_mask + 1.0)
    }
}

/// The identity, for denoising: `A x = x`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl LinearOperator for Identity {
    type Domain = Tensor<4>;
    type Range = Tensor<4>;

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        x
    }

    fn adjoint(&self, y: Tensor<4>) -> Tensor<4> {
        y
    }

    /// Closed form: `x = (z + γ y) / (1 + γ)`.
    fn prox_l2(&self, z: Tensor<4>, y: Tensor<4>, gamma: Tensor<1>) -> Tensor<4> {
        let gamma = gamma.unsqueeze_dims::<4>(&[1, 2, 3]);
        (z + y * gamma.clone()) / (gamma + 1.0)
    }
}

/// Compressed sensing with a dense i.i.d. Gaussian matrix `Φ ∈ R^{m×n}`, entries `N(0, 1/m)`
/// (deepinv's normalisation, so `E‖Φx‖² = ‖x‖²`), acting on each flattened image of `n = C·H·W`
/// pixels. The measurement has shape `[N, 1, 1, m]`. The matrix is shared by the batch and drawn
/// from a seeded ChaCha8 stream, so the same seed gives the same operator on every backend.
#[derive(Clone, Debug)]
pub struct CompressedSensing {
    /// `Φᵀ`, shape `[n, m]`.
    matrix_t: Tensor<2>,
    image: [usize; 3],
}

impl CompressedSensing {
    /// Draws `Φ` for images of shape `[C, H, W]` with `measurements` rows.
    pub fn gaussian(measurements: usize, image: [usize; 3], seed: u64, device: &Device) -> Self {
        let n: usize = image.iter().product();
        let normal = Normal::new(0.0f64, (1.0 / measurements as f64).sqrt()).expect("finite sd");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Drawn row by row (Φ[i, :]), stored transposed.
        let mut transposed = vec![0f32; n * measurements];
        for i in 0..measurements {
            for j in 0..n {
                transposed[j * measurements + i] = normal.sample(&mut rng) as f32;
            }
        }
        let matrix_t = Tensor::from_data(TensorData::new(transposed, [n, measurements]), device);
        Self { matrix_t, image }
    }

    /// Number of measurements `m`.
    pub fn measurements(&self) -> usize {
        self.matrix_t.dims()[1]
    }
}

impl LinearOperator for CompressedSensing {
    type Domain = Tensor<4>;
    type Range = Tensor<4>;

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [batch, ..] = x.dims();
        let [n, m] = self.matrix_t.dims();
        x.reshape([batch, n]).matmul(self.matrix_t.clone()).reshape([batch, 1, 1, m])
    }

    fn adjoint(&self, y: Tensor<4>) -> Tensor<4> {
        let [batch, ..] = y.dims();
        let [c, h, w] = self.image;
        let m = self.measurements();
        y.reshape([batch, m]).matmul(self.matrix_t.clone().transpose()).reshape([batch, c, h, w])
    }
}
