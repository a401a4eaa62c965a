//! Point-spread functions of a ground-based telescope, for the galaxy simulation
//! (`pnp-admm-galaxy.md` §3.3): a Kolmogorov atmosphere, sheared, convolved with the diffraction
//! PSF of an obscured circular pupil with Zernike aberrations, both drawn from their optical
//! transfer functions (OTFs); and the host FFT helpers the simulation draws with.
//!
//! Conventions: angles in arcseconds, spatial frequencies in cycles per arcsecond. Images are
//! `n × n`, row-major (`[row, column]`, the row axis first in shears and offsets); a centred image
//! has its centre at pixel `(n/2, n/2)` (integer division: the `ifftshift` convention of
//! [`crate::blur`]). A drawn PSF is point samples of the continuous PSF, with no pixel response:
//! draw finer and [`average_pool`] to integrate over pixels.

use rustfft::FftPlanner;
use rustfft::num_complex::Complex64;

/// FWHM of a Kolmogorov PSF in units of `λ/r₀`.
pub const KOLMOGOROV_FWHM: f64 = 0.975_863;

/// Samples of the pupil grid across the pupil diameter (the optical OTF is the pupil's
/// autocorrelation on this grid, interpolated bilinearly).
const PUPIL_SAMPLES: usize = 64;

/// A ground-based telescope's PSF: atmosphere ⊛ optics.
#[derive(Clone, Debug, PartialEq)]
pub struct GroundPsf {
    /// FWHM of the Kolmogorov atmosphere, arcsec (the seeing).
    pub seeing: f64,
    /// Reduced shear `(g₁, g₂)` of the atmospheric PSF (area-preserving).
    pub shear: [f64; 2],
    /// `λ/D` of the telescope, arcsec.
    pub lambda_over_d: f64,
    /// Linear central obscuration, a fraction of the pupil diameter in `[0, 1)`.
    pub obscuration: f64,
    /// Wavefront aberrations in waves, Noll-normalised Zernike terms 4 to 11: defocus,
    /// astigmatism (2), coma (2), trefoil (2), spherical.
    pub aberrations: [f64; 8],
}

impl GroundPsf {
    /// The OTF at frequency `f = [f_row, f_col]` (cycles/arcsec); `pupil_otf` is the optical part
    /// from [`GroundPsf::pupil_autocorrelation`].
    fn otf(&self, f: [f64; 2], pupil_otf: &PupilOtf) -> Complex64 {
        // A sheared PSF p(S⁻¹x) (det S = 1) has OTF P(Sᵀf); S is symmetric.
        let s = shear_matrix(self.shear);
        let sheared = [s[0][0] * f[0] + s[0][1] * f[1], s[1][0] * f[0] + s[1][1] * f[1]];
        let lambda_over_r0 = self.seeing / KOLMOGOROV_FWHM;
        let radius = (sheared[0] * sheared[0] + sheared[1] * sheared[1]).sqrt();
        let atmosphere = (-3.44 * (lambda_over_r0 * radius).powf(5.0 / 3.0)).exp();
        pupil_otf.at([f[0] * self.lambda_over_d, f[1] * self.lambda_over_d]) * atmosphere
    }

    /// The normalised autocorrelation of the pupil function `A(u)·exp(2πi W(u))` on a grid of
    /// [`PUPIL_SAMPLES`] per diameter (`u` in units of the diameter `D`).
    fn pupil_autocorrelation(&self) -> PupilOtf {
        let grid = 2 * PUPIL_SAMPLES;
        let centre = grid as f64 / 2.0;
        let mut pupil = vec![Complex64::new(0.0, 0.0); grid * grid];
        for (i, value) in pupil.iter_mut().enumerate() {
            // ρ = 1 at the pupil's edge.
            let (y, x) = (((i / grid) as f64 + 0.5 - centre), ((i % grid) as f64 + 0.5 - centre));
            let rho = 2.0 * (x * x + y * y).sqrt() / PUPIL_SAMPLES as f64;
            if rho <= 1.0 && rho >= self.obscuration {
                let phase = 2.0 * std::f64::consts::PI * zernike_wavefront(&self.aberrations, rho, y.atan2(x));
                *value = Complex64::from_polar(1.0, phase);
            }
        }
        fft2(&mut pupil, grid, false);
        for v in pupil.iter_mut() {
            *v = Complex64::new(v.norm_sqr(), 0.0);
        }
        fft2(&mut pupil, grid, true);
        let zero = pupil[0];
        PupilOtf { values: pupil.into_iter().map(|v| v / zero).collect(), grid }
    }

    /// The PSF on an `n × n` grid of `scale` arcsec pixels, centred at `(n/2 + offset, n/2 +
    /// offset)` pixels, summing to 1: point samples of the continuous PSF, band-limited to the
    /// grid's Nyquist frequency (drawn as the inverse DFT of the OTF; the small negative ringing
    /// this leaves is clipped).
    pub fn draw(&self, n: usize, scale: f64, offset: f64) -> Vec<f64> {
        let pupil_otf = self.pupil_autocorrelation();
        let shift = (n / 2) as f64 + offset;
        let mut spectrum: Vec<Complex64> = (0..n * n)
            .map(|i| {
                let (kr, kc) = (signed_frequency(i / n, n), signed_frequency(i % n, n));
                let f = [kr / (n as f64 * scale), kc / (n as f64 * scale)];
                // Centred at `shift`: the phase ramp exp(−2πi k·shift/n).
                let ramp = Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * (kr + kc) * shift / n as f64);
                self.otf(f, &pupil_otf) * ramp
            })
            .collect();
        fft2(&mut spectrum, n, true);
        let image: Vec<f64> = spectrum.iter().map(|v| v.re.max(0.0)).collect();
        let total: f64 = image.iter().sum();
        image.into_iter().map(|v| v / total).collect()
    }
}

/// The optical OTF sampled at integer pupil-grid shifts, FFT order.
struct PupilOtf {
    values: Vec<Complex64>,
    grid: usize,
}

impl PupilOtf {
    /// Bilinear interpolation at shift `s` (units of the pupil diameter); zero beyond the cutoff.
    fn at(&self, s: [f64; 2]) -> Complex64 {
        let (r, c) = (s[0] * PUPIL_SAMPLES as f64, s[1] * PUPIL_SAMPLES as f64);
        let half = (self.grid / 2) as f64 - 1.0;
        if r.abs() >= half || c.abs() >= half {
            return Complex64::new(0.0, 0.0);
        }
        let (r0, c0) = (r.floor(), c.floor());
        let (tr, tc) = (r - r0, c - c0);
        let index = |a: f64| a.rem_euclid(self.grid as f64) as usize;
        let value = |a: f64, b: f64| self.values[index(a) * self.grid + index(b)];
        value(r0, c0) * (1.0 - tr) * (1.0 - tc)
            + value(r0, c0 + 1.0) * (1.0 - tr) * tc
            + value(r0 + 1.0, c0) * tr * (1.0 - tc)
            + value(r0 + 1.0, c0 + 1.0) * tr * tc
    }
}

/// The wavefront `Σ a_j Z_j(ρ, θ)` (waves) for Noll terms `j = 4..=11`.
fn zernike_wavefront(a: &[f64; 8], rho: f64, theta: f64) -> f64 {
    let (r2, r3) = (rho * rho, rho * rho * rho);
    let terms = [
        3f64.sqrt() * (2.0 * r2 - 1.0),
        6f64.sqrt() * r2 * (2.0 * theta).sin(),
        6f64.sqrt() * r2 * (2.0 * theta).cos(),
        8f64.sqrt() * (3.0 * r3 - 2.0 * rho) * theta.sin(),
        8f64.sqrt() * (3.0 * r3 - 2.0 * rho) * theta.cos(),
        8f64.sqrt() * r3 * (3.0 * theta).sin(),
        8f64.sqrt() * r3 * (3.0 * theta).cos(),
        5f64.sqrt() * (6.0 * r2 * r2 - 6.0 * r2 + 1.0),
    ];
    a.iter().zip(terms).map(|(a, z)| a * z).sum()
}

/// The area-preserving shear of reduced shear `g = (g₁, g₂)` acting on `(row, column)`
/// coordinates: `(1 − |g|²)^(−½) [[1 + g₁, g₂], [g₂, 1 − g₁]]` (GalSim's convention with its x
/// the column axis).
pub fn shear_matrix([g1, g2]: [f64; 2]) -> [[f64; 2]; 2] {
    let norm = 1.0 / (1.0 - g1 * g1 - g2 * g2).sqrt();
    // In (x, y) = (column, row): [[1 + g₁, g₂], [g₂, 1 − g₁]]; swapping the axes swaps g₁'s sign.
    [[(1.0 - g1) * norm, g2 * norm], [g2 * norm, (1.0 + g1) * norm]]
}

/// The signed DFT frequency of index `k` of `n` (`k` for `k ≤ n/2`... `k − n` above).
fn signed_frequency(k: usize, n: usize) -> f64 {
    if k <= n / 2 { k as f64 } else { k as f64 - n as f64 }
}

/// In-place unnormalised 2-D DFT of an `n × n` row-major array (`inverse`: the conjugate
/// transform, divided by `n²`).
pub fn fft2(data: &mut [Complex64], n: usize, inverse: bool) {
    let mut planner = FftPlanner::new();
    let fft = if inverse { planner.plan_fft_inverse(n) } else { planner.plan_fft_forward(n) };
    fft.process(data);
    let mut columns = vec![Complex64::new(0.0, 0.0); n * n];
    for (i, v) in data.iter().enumerate() {
        columns[(i % n) * n + i / n] = *v;
    }
    fft.process(&mut columns);
    let scale = if inverse { 1.0 / (n * n) as f64 } else { 1.0 };
    for (i, v) in columns.iter().enumerate() {
        data[(i % n) * n + i / n] = *v * scale;
    }
}

/// Circular convolution of an `n × n` image with a kernel given by its `n × n` centred image
/// (centre at `(n/2, n/2)`), by FFT.
pub fn convolve_centred(image: &[f64], kernel: &[f64], n: usize) -> Vec<f64> {
    let centre = n / 2;
    let mut a: Vec<Complex64> = image.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    // The kernel rolled so that its centre sits at the origin.
    let mut k = vec![Complex64::new(0.0, 0.0); n * n];
    for (i, &v) in kernel.iter().enumerate() {
        let (r, c) = ((i / n + n - centre) % n, (i % n + n - centre) % n);
        k[r * n + c] = Complex64::new(v, 0.0);
    }
    fft2(&mut a, n, false);
    fft2(&mut k, n, false);
    for (x, y) in a.iter_mut().zip(&k) {
        *x *= y;
    }
    fft2(&mut a, n, true);
    a.iter().map(|v| v.re).collect()
}

/// Block means of `factor × factor` pixels of an `[h, w]` row-major image (`h`, `w` multiples of
/// `factor`): integration over pixels `factor` times larger.
pub fn average_pool(image: &[f64], [h, w]: [usize; 2], factor: usize) -> Vec<f64> {
    let (ph, pw) = (h / factor, w / factor);
    let mut out = vec![0.0; ph * pw];
    for (i, &v) in image.iter().enumerate() {
        let (r, c) = (i / w / factor, i % w / factor);
        out[r * pw + c] += v;
    }
    let area = (factor * factor) as f64;
    out.iter_mut().for_each(|v| *v /= area);
    out
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use super::*;

    fn atmosphere(seeing: f64) -> GroundPsf {
        GroundPsf { seeing, shear: [0.0, 0.0], lambda_over_d: 1e-6, obscuration: 0.0, aberrations: [0.0; 8] }
    }

    /// Full width at half maximum along the row through the centre, interpolated linearly.
    fn fwhm(image: &[f64], n: usize, scale: f64) -> f64 {
        let row = &image[(n / 2) * n..(n / 2 + 1) * n];
        let half = row[n / 2] / 2.0;
        let mut k = n / 2;
        while row[k + 1] > half {
            k += 1;
        }
        let edge = k as f64 + (row[k] - half) / (row[k] - row[k + 1]);
        2.0 * (edge - (n / 2) as f64) * scale
    }

    #[test]
    fn a_kolmogorov_psf_has_its_fwhm_and_sums_to_one() {
        for seeing in [0.45, 0.7, 0.95] {
            let psf = atmosphere(seeing).draw(256, 0.02, 0.0);
            assert!((psf.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            let measured = fwhm(&psf, 256, 0.02);
            assert!((measured - seeing).abs() / seeing < 0.02, "seeing {seeing}: FWHM {measured}");
        }
    }

    #[test]
    fn the_diffraction_psf_of_a_clear_pupil_has_the_airy_width() {
        // Airy FWHM = 1.029 λ/D; a seeing far below the pixel leaves the optics alone.
        let psf = GroundPsf { seeing: 1e-6, shear: [0.0, 0.0], lambda_over_d: 1.0, ..atmosphere(0.0) };
        let measured = fwhm(&psf.draw(128, 0.1, 0.0), 128, 0.1);
        assert!((measured - 1.029).abs() < 0.03, "FWHM {measured}");
    }

    #[test]
    fn shear_elongates_along_rows_for_negative_g1_and_offsets_move_the_centre() {
        let mut psf = atmosphere(0.7);
        psf.shear = [-0.2, 0.0];
        let image = psf.draw(64, 0.05, 0.0);
        let (rows, cols) = second_moments(&image, 64);
        assert!(rows > 1.3 * cols, "row variance {rows}, column variance {cols}");
        let moved = atmosphere(0.7).draw(64, 0.05, 1.5);
        // The circular centroid (the wings wrap around the periodic grid): the phase of the first
        // Fourier coefficient along the columns.
        let first: Complex64 =
            moved.iter().enumerate().map(|(i, v)| Complex64::from_polar(*v, 2.0 * PI * (i % 64) as f64 / 64.0)).sum();
        let centroid = first.arg().rem_euclid(2.0 * PI) * 64.0 / (2.0 * PI);
        assert!((centroid - 33.5).abs() < 0.05, "centroid {centroid}");
    }

    fn second_moments(image: &[f64], n: usize) -> (f64, f64) {
        let c = (n / 2) as f64;
        let rows = image.iter().enumerate().map(|(i, v)| ((i / n) as f64 - c).powi(2) * v).sum();
        let cols = image.iter().enumerate().map(|(i, v)| ((i % n) as f64 - c).powi(2) * v).sum();
        (rows, cols)
    }

    #[test]
    fn aberrations_and_obscuration_keep_the_psf_normalised_and_non_negative() {
        let psf = GroundPsf {
            seeing: 0.6,
            shear: [0.02, -0.01],
            lambda_over_d: 0.02,
            obscuration: 0.4,
            aberrations: [0.36, 0.07, -0.07, 0.07, 0.07, -0.07, 0.07, 0.07],
        };
        let image = psf.draw(192, 0.05, 1.5);
        assert!(image.iter().all(|&v| v >= 0.0));
        assert!((image.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let pooled = average_pool(&image, [192, 192], 4);
        assert!((pooled.iter().sum::<f64>() * 16.0 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn convolution_with_a_centred_delta_is_the_identity() {
        let n = 8;
        let image: Vec<f64> = (0..n * n).map(|i| (i * 7 % 11) as f64).collect();
        let mut delta = vec![0.0; n * n];
        delta[(n / 2) * n + n / 2] = 1.0;
        let out = convolve_centred(&image, &delta, n);
        assert!(out.iter().zip(&image).all(|(a, b)| (a - b).abs() < 1e-9));
    }
}
