//! The orthonormal 2-D DCT-II basis `Φ` of real images `[N, C, H, W]`, for models that estimate
//! coefficients `c` with `x = Φc` (DR-CG-Net's change of basis).
//!
//! Convention (SciPy's `dctn(x, type=2, norm="ortho")`): the analysis `c = Φᵀx = D_H x D_Wᵀ` with
//! `D_n[k, j] = s_k cos(π(2j + 1)k / 2n)`, `s_0 = √(1/n)`, `s_k = √(2/n)`, applied per channel; the
//! DC coefficient is `c[0, 0] = √(HW)·mean(x)`. `Φ` is orthogonal, so the synthesis `x = Φc` is
//! also the inverse.

use burn::prelude::*;

use crate::operator::LinearOperator;

/// The synthesis `Φ: c ↦ x` (forward) and the analysis `Φᵀ = Φ⁻¹` (adjoint) on `[N, C, H, W]`.
#[derive(Clone, Debug)]
pub struct Dct2 {
    /// `D_H`, shape `[1, H, H]`.
    rows: Tensor<3>,
    /// `D_W`, shape `[1, W, W]`.
    columns: Tensor<3>,
}

/// Row-major `D_n` in f64.
pub fn dct_matrix(n: usize) -> Vec<f64> {
    let mut d = vec![0.0; n * n];
    for k in 0..n {
        let scale = if k == 0 { (1.0 / n as f64).sqrt() } else { (2.0 / n as f64).sqrt() };
        for j in 0..n {
            d[k * n + j] = scale * (std::f64::consts::PI * (2 * j + 1) as f64 * k as f64 / (2 * n) as f64).cos();
        }
    }
    d
}

impl Dct2 {
    /// The basis of `height × width` images.
    pub fn new(height: usize, width: usize, device: &Device) -> Self {
        let upload = |n: usize| {
            let d: Vec<f32> = dct_matrix(n).into_iter().map(|v| v as f32).collect();
            Tensor::<2>::from_data(TensorData::new(d, [n, n]), device).unsqueeze_dim::<3>(0)
        };
        Self { rows: upload(height), columns: upload(width) }
    }

    /// `L · X · Rᵀ` for every `[H, W]` plane of `x`.
    fn sandwich(x: Tensor<4>, left: Tensor<3>, right_transposed: Tensor<3>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let planes = x.reshape([n * c, h, w]);
        left.matmul(planes).matmul(right_transposed).reshape([n, c, h, w])
    }
}

impl LinearOperator for Dct2 {
    type Domain = Tensor<4>;
    type Range = Tensor<4>;

    /// `x = D_Hᵀ c D_W`.
    fn forward(&self, c: Tensor<4>) -> Tensor<4> {
        Self::sandwich(c, self.rows.clone().swap_dims(1, 2), self.columns.clone())
    }

    /// `c = D_H x D_Wᵀ`.
    fn adjoint(&self, x: Tensor<4>) -> Tensor<4> {
        Self::sandwich(x, self.rows.clone(), self.columns.clone().swap_dims(1, 2))
    }

    /// `Φ` is orthogonal: `x = (z + γΦᵀy) / (1 + γ)`.
    fn prox_l2(&self, z: Tensor<4>, y: Tensor<4>, gamma: Tensor<1>) -> Tensor<4> {
        let gamma = gamma.unsqueeze_dims::<4>(&[1, 2, 3]);
        (z + self.adjoint(y) * gamma.clone()) / (gamma + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(t: Tensor<4>) -> Vec<f64> {
        t.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64 data")
    }

    #[test]
    fn the_analysis_is_the_direct_sum_and_the_synthesis_inverts_it() {
        let device = Device::flex();
        let (h, w) = (5, 7);
        let values: Vec<f32> = (0..2 * h * w).map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(values.clone(), [2, 1, h, w]), &device);
        let basis = Dct2::new(h, w, &device);
        let c = host(basis.adjoint(x.clone()));
        let (dh, dw) = (dct_matrix(h), dct_matrix(w));
        for s in 0..2 {
            for (k, l) in (0..h).flat_map(|k| (0..w).map(move |l| (k, l))) {
                let direct: f64 = (0..h)
                    .flat_map(|i| (0..w).map(move |j| (i, j)))
                    .map(|(i, j)| dh[k * h + i] * dw[l * w + j] * values[s * h * w + i * w + j] as f64)
                    .sum();
                let got = c[s * h * w + k * w + l];
                assert!((got - direct).abs() < 1e-5, "c[{s}, {k}, {l}] = {got}, direct sum {direct}");
            }
        }
        let back = host(basis.forward(basis.adjoint(x)));
        for (b, v) in back.iter().zip(&values) {
            assert!((b - *v as f64).abs() < 1e-5, "Φ Φᵀ x = {b}, x = {v}");
        }
        // A constant image has only the DC coefficient √(HW)·value.
        let constant = host(basis.adjoint(Tensor::full([1, 1, h, w], 2.0, &device)));
        assert!((constant[0] - 2.0 * ((h * w) as f64).sqrt()).abs() < 1e-5);
        assert!(constant[1..].iter().all(|v| v.abs() < 1e-5), "{constant:?}");
    }
}
