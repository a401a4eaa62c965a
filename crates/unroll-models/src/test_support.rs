//! Dense linear algebra for the models' unit tests.

use burn::prelude::*;

/// The dense matrix of the linear map `forward` on `[1, C, H, W]` images, row-major `[m, n]` with
/// `n = C·H·W` and `m` the size of one output; returns it and `m`.
pub fn dense(forward: impl Fn(Tensor<4>) -> Tensor<4>, [c, h, w]: [usize; 3], device: &Device) -> (Vec<f64>, usize) {
    let n = c * h * w;
    let columns: Vec<Vec<f64>> = (0..n)
        .map(|j| {
            let mut basis = vec![0f32; n];
            basis[j] = 1.0;
            let column = forward(Tensor::from_data(TensorData::new(basis, [1, c, h, w]), device));
            column.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64 values")
        })
        .collect();
    let m = columns[0].len();
    let mut matrix = vec![0.0; m * n];
    for (j, column) in columns.iter().enumerate() {
        for (i, v) in column.iter().enumerate() {
            matrix[i * n + j] = *v;
        }
    }
    (matrix, m)
}

/// `M x = b` by Gaussian elimination with partial pivoting (`M` row-major, `n × n`).
pub fn solve(mut m: Vec<f64>, mut b: Vec<f64>) -> Vec<f64> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&a, &c| m[a * n + col].abs().total_cmp(&m[c * n + col].abs())).expect("n > 0");
        for k in 0..n {
            m.swap(col * n + k, pivot * n + k);
        }
        b.swap(col, pivot);
        for row in col + 1..n {
            let factor = m[row * n + col] / m[col * n + col];
            for k in col..n {
                m[row * n + k] -= factor * m[col * n + k];
            }
            b[row] -= factor * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| m[row * n + k] * x[k]).sum();
        x[row] = (b[row] - tail) / m[row * n + row];
    }
    x
}

/// Host copy of a tensor, as f64.
pub fn host(t: Tensor<4>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().expect("f64 data")
}
