//! Simulated galaxy images (`pnp-admm-galaxy.md` §3.3): the ground truth of the galaxy
//! deconvolution problem, drawn from real HST galaxies.
//!
//! Galaxies are the parametric Sérsic fits of GalSim's COSMOS example catalogue (`sersicfit`
//! index `n`, axis ratio `q`, position angle `φ`; the circularised half-light radius `hlr`), each
//! convolved with its own HST PSF (the catalogue's row `i` uses HDU `i` of the PSF file), and real
//! HST stamps (sky-subtracted images at 0.03″, which already carry their PSF). Each realisation of
//! a galaxy is randomly rotated, sheared (`|g| ~ U(0.01, 0.05)` at a random angle), magnified
//! (`μ ~ U(1, 1.1)`) and offset by `U(−1, 1)` pixels of the fine grid in each axis; it is drawn at
//! [`UPSAMPLING`]× the final resolution (0.05″ pixels, each the mean of 3 × 3 point samples) and
//! average-pooled to [`PIXEL_SCALE`] = 0.2″ pixels. The galaxy's centre is the centre pixel
//! `(n/2, n/2)` of the pooled image (the `ifftshift` convention of the blur).
//!
//! Where this differs from the reference's GalSim pipeline (`generate_data.py`):
//! - the reference draws GalSim `RealGalaxy` images of the COSMOS 23.5 sample (40 000 galaxies);
//!   the example catalogue shipped here has no galaxy images, so its galaxies are its single-Sérsic
//!   fits (also for the 36 whose catalogue prefers a bulge + disc fit), plus the 5 real AEGIS
//!   stamps;
//! - the HST PSF is resampled bilinearly from 0.03″ to the 0.05″ grid, where GalSim interpolates
//!   with its own kernels;
//! - the ground-based PSF is applied by the `galaxy` problem to the pooled image with the pooled
//!   PSF (the model's own forward operator), not at 4× before pooling.

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use unroll_physics::psf::{average_pool, convolve_centred, shear_matrix};

use crate::error::DataError;
use crate::readers::{self, Image};

/// Pixel scale of the simulated observations, arcsec (LSST-like, the reference's 0.2″).
pub const PIXEL_SCALE: f64 = 0.2;
/// The fine grid galaxies and PSFs are drawn on before pooling: this many pixels per pixel.
pub const UPSAMPLING: usize = 4;
/// Pixel scale of the HST images, arcsec.
const HST_SCALE: f64 = 0.03;
/// Point samples per fine pixel along each axis.
const SUBSAMPLES: usize = 3;

/// Where a pooled pixel's centre lies on the fine grid, relative to the fine pixel `UPSAMPLING·k`.
pub const POOLED_CENTRE: f64 = (UPSAMPLING as f64 - 1.0) / 2.0;

/// A sampled image on a grid of `scale` arcsec pixels, read as a continuous function by bilinear
/// interpolation (zero outside), centred at its flux centroid.
#[derive(Clone, Debug)]
struct Stamp {
    pixels: Vec<f64>,
    shape: [usize; 2],
    /// The centroid `(row, column)` in pixels.
    centre: [f64; 2],
}

impl Stamp {
    /// `None` when no pixel is positive (no centroid).
    fn new(image: &Image) -> Option<Self> {
        let pixels: Vec<f64> = image.data.iter().map(|&v| f64::from(v)).collect();
        let w = image.width;
        let positive: f64 = pixels.iter().map(|v| v.max(0.0)).sum();
        if positive <= 0.0 {
            return None;
        }
        let moment = |axis: fn(usize, usize) -> f64| {
            pixels.iter().enumerate().map(|(i, v)| axis(i, w) * v.max(0.0)).sum::<f64>() / positive
        };
        let centre = [moment(|i, w| (i / w) as f64), moment(|i, w| (i % w) as f64)];
        Some(Self { pixels, shape: [image.height, image.width], centre })
    }

    /// The value at `(row, column)` arcsec from the centre.
    fn at(&self, [r, c]: [f64; 2]) -> f64 {
        let (r, c) = (r / HST_SCALE + self.centre[0], c / HST_SCALE + self.centre[1]);
        let [h, w] = self.shape;
        let (r0, c0) = (r.floor(), c.floor());
        let (tr, tc) = (r - r0, c - c0);
        let value = |a: f64, b: f64| {
            if a < 0.0 || b < 0.0 || a >= h as f64 || b >= w as f64 {
                0.0
            } else {
                self.pixels[a as usize * w + b as usize]
            }
        };
        value(r0, c0) * (1.0 - tr) * (1.0 - tc)
            + value(r0, c0 + 1.0) * (1.0 - tr) * tc
            + value(r0 + 1.0, c0) * tr * (1.0 - tc)
            + value(r0 + 1.0, c0 + 1.0) * tr * tc
    }
}

/// One galaxy of the catalogue.
#[derive(Clone, Debug)]
enum Galaxy {
    /// A Sérsic profile `exp(−b_n (r/r_e)^{1/n})` with elliptical radius `r`, and its HST PSF.
    Sersic {
        n: f64,
        /// Circularised half-light radius, arcsec.
        half_light_radius: f64,
        /// Axis ratio `b/a`.
        q: f64,
        /// Position angle of the major axis, radians from the column axis towards the row axis.
        phi: f64,
        psf: Stamp,
    },
    /// A real HST image.
    Real(Stamp),
}

/// `b_n` of the Sérsic profile (Ciotti & Bertin 1999, accurate to 1e-4 for `n > 0.36`; below,
/// the first terms still give the half-light radius to a few per cent).
fn sersic_b(n: f64) -> f64 {
    2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25_515.0 * n * n) + 131.0 / (1_148_175.0 * n.powi(3))
}

/// The catalogue: every parametric fit of `catalog` (HDU 1, columns `sersicfit` and `hlr`) with
/// the PSFs of `psfs`, then every image HDU of the files `stamps`.
pub struct GalaxyCatalog {
    galaxies: Vec<Galaxy>,
}

impl GalaxyCatalog {
    /// Reads the catalogue; an error names the file (and HDU or column) that is missing or
    /// malformed, or a fit with a non-physical value.
    pub fn read(catalog: &Path, psfs: &Path, stamps: &[PathBuf]) -> Result<Self, DataError> {
        let columns = readers::read_fits_table(catalog, 1, &["sersicfit", "hlr"])?;
        let (fits, radii) = (&columns[0], &columns[1]);
        let kernels = readers::read_fits_images(psfs, None)?;
        if kernels.len() < fits.len() {
            let message =
                format!("has {} PSF images; the catalogue {} needs {}", kernels.len(), catalog.display(), fits.len());
            return Err(DataError::file(psfs, message));
        }
        let stamp = |path: &Path, what: String, image: &Image| {
            Stamp::new(image).ok_or_else(|| DataError::file(path, format!("{what} has no positive pixel")))
        };
        let mut galaxies = Vec::new();
        for path in stamps {
            for (i, image) in readers::read_fits_images(path, None)?.iter().enumerate() {
                galaxies.push(Galaxy::Real(stamp(path, format!("image {i}"), image)?));
            }
        }
        for (row, (fit, radius)) in fits.iter().zip(radii).enumerate() {
            if fit.len() < 8 || radius.is_empty() {
                let message = format!("row {row}: `sersicfit` needs 8 values and `hlr` at least 1");
                return Err(DataError::file(catalog, message));
            }
            let (n, q, phi, half_light_radius) = (fit[2], fit[3], fit[7], radius[0]);
            if !(n > 0.0 && q > 0.0 && q <= 1.0 && half_light_radius > 0.0 && phi.is_finite()) {
                let message = format!(
                    "row {row}: a Sérsic fit needs n > 0, 0 < q <= 1 and hlr > 0, got n {n}, q {q}, hlr {half_light_radius}"
                );
                return Err(DataError::file(catalog, message));
            }
            // GalSim clips the index to its supported range [0.3, 6.2].
            let n = n.clamp(0.3, 6.2);
            let psf = stamp(psfs, format!("PSF image {row}"), &kernels[row])?;
            galaxies.push(Galaxy::Sersic { n, half_light_radius, q, phi, psf });
        }
        Ok(Self { galaxies })
    }

    /// `per_galaxy` random realisations of every galaxy as `size × size` images at
    /// [`PIXEL_SCALE`] (negative values, the noise of real stamps, clipped to 0), galaxy-major (the real stamps first), realisation `k` of galaxy `g` drawn
    /// from `(seed, g, k)`.
    pub fn render(&self, per_galaxy: usize, size: usize, seed: u64) -> Vec<Image> {
        let jobs: Vec<(usize, usize)> =
            (0..self.galaxies.len()).flat_map(|g| (0..per_galaxy).map(move |k| (g, k))).collect();
        jobs.par_iter()
            .map(|&(g, k)| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (g as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                rng.set_stream(k as u64);
                let data = self.draw(g, &Realisation::draw(&mut rng), size);
                Image {
                    channels: 1,
                    height: size,
                    width: size,
                    data: data.into_iter().map(|v| v.max(0.0) as f32).collect(),
                }
            })
            .collect()
    }

    /// Galaxy `g` under `realisation`, `size × size` pooled pixels.
    fn draw(&self, g: usize, realisation: &Realisation, size: usize) -> Vec<f64> {
        let n = size * UPSAMPLING;
        let fine = PIXEL_SCALE / UPSAMPLING as f64;
        let centre = (size / 2 * UPSAMPLING) as f64 + POOLED_CENTRE;
        let galaxy = &self.galaxies[g];
        let intrinsic = match galaxy {
            // The circular profile stretched by 1/√q along the major axis (direction (sin φ, cos φ)
            // in (row, column) coordinates) and by √q across it.
            Galaxy::Sersic { q, phi, .. } => {
                let (c, s) = (phi.cos(), phi.sin());
                let (a, b) = (1.0 / q.sqrt(), q.sqrt());
                [[a * s * s + b * c * c, (a - b) * s * c], [(a - b) * s * c, a * c * c + b * s * s]]
            }
            Galaxy::Real(_) => [[1.0, 0.0], [0.0, 1.0]],
        };
        let inverse = invert(multiply(realisation.map(), intrinsic));
        let point = |r: f64, c: f64| -> f64 {
            let (dr, dc) = ((r - centre - realisation.offset[0]) * fine, (c - centre - realisation.offset[1]) * fine);
            let u = [inverse[0][0] * dr + inverse[0][1] * dc, inverse[1][0] * dr + inverse[1][1] * dc];
            match galaxy {
                Galaxy::Sersic { n, half_light_radius, .. } => {
                    let radius = (u[0] * u[0] + u[1] * u[1]).sqrt() / half_light_radius;
                    (-sersic_b(*n) * (radius.powf(1.0 / n) - 1.0)).exp()
                }
                Galaxy::Real(stamp) => stamp.at(u),
            }
        };
        let step = 1.0 / SUBSAMPLES as f64;
        let offsets: Vec<f64> = (0..SUBSAMPLES).map(|k| (k as f64 + 0.5) * step - 0.5).collect();
        let mut image: Vec<f64> = (0..n * n)
            .map(|i| {
                let (r, c) = ((i / n) as f64, (i % n) as f64);
                offsets
                    .iter()
                    .flat_map(|a| offsets.iter().map(move |b| (a, b)))
                    .map(|(a, b)| point(r + a, c + b))
                    .sum::<f64>()
                    / (SUBSAMPLES * SUBSAMPLES) as f64
            })
            .collect();
        if let Galaxy::Sersic { psf, .. } = galaxy {
            let kernel = resample_centred(psf, n, fine);
            image = convolve_centred(&image, &kernel, n);
        }
        average_pool(&image, [n, n], UPSAMPLING)
    }
}

/// `stamp` resampled (bilinearly) onto an `n × n` grid of `scale` arcsec pixels centred at
/// `(n/2, n/2)`, normalised to sum 1.
fn resample_centred(stamp: &Stamp, n: usize, scale: f64) -> Vec<f64> {
    let c = (n / 2) as f64;
    let kernel: Vec<f64> =
        (0..n * n).map(|i| stamp.at([((i / n) as f64 - c) * scale, ((i % n) as f64 - c) * scale]).max(0.0)).collect();
    let total: f64 = kernel.iter().sum();
    kernel.into_iter().map(|v| v / total).collect()
}

/// The random geometry of one realisation.
#[derive(Clone, Debug)]
struct Realisation {
    rotation: f64,
    shear: [f64; 2],
    magnification: f64,
    /// `(row, column)` offset in fine pixels.
    offset: [f64; 2],
}

impl Realisation {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        let rotation = rng.random_range(0.0..2.0 * PI);
        let (modulus, angle) = (rng.random_range(0.01..0.05), rng.random_range(0.0..PI));
        let shear = [modulus * (2.0 * angle).cos(), modulus * (2.0 * angle).sin()];
        let magnification = rng.random_range(1.0..1.1);
        let offset = [rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)];
        Self { rotation, shear, magnification, offset }
    }

    /// The linear map from intrinsic to sky coordinates, `(row, column)`: `√μ · S(g) · R(θ)`.
    fn map(&self) -> [[f64; 2]; 2] {
        let (c, s) = (self.rotation.cos(), self.rotation.sin());
        let scaled = shear_matrix(self.shear).map(|row| row.map(|v| v * self.magnification.sqrt()));
        multiply(scaled, [[c, -s], [s, c]])
    }
}

fn multiply(a: [[f64; 2]; 2], b: [[f64; 2]; 2]) -> [[f64; 2]; 2] {
    let entry = |i: usize, j: usize| a[i][0] * b[0][j] + a[i][1] * b[1][j];
    [[entry(0, 0), entry(0, 1)], [entry(1, 0), entry(1, 1)]]
}

fn invert(m: [[f64; 2]; 2]) -> [[f64; 2]; 2] {
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    [[m[1][1] / det, -m[0][1] / det], [-m[1][0] / det, m[0][0] / det]]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The half-light radius of a circular Sérsic profile is `r_e`: half of the flux of the
    /// profile lies inside it (radial integral on a fine grid).
    #[test]
    fn sersic_b_puts_half_the_light_inside_the_half_light_radius() {
        for n in [0.5, 1.0, 2.5, 4.0, 6.0] {
            let b = sersic_b(n);
            let (step, end): (f64, f64) = (1e-4, 200.0);
            let (mut inside, mut total) = (0.0, 0.0);
            let mut r = step / 2.0;
            while r < end {
                let f = (-b * (r.powf(1.0 / n) - 1.0)).exp() * r;
                total += f;
                if r < 1.0 {
                    inside += f;
                }
                r += step;
            }
            assert!((inside / total - 0.5).abs() < 2e-3, "n {n}: {}", inside / total);
        }
    }

    #[test]
    fn a_round_unsheared_galaxy_is_centred_and_symmetric() {
        let psf = Image { channels: 1, height: 3, width: 3, data: vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0] };
        let catalog = GalaxyCatalog {
            galaxies: vec![Galaxy::Sersic {
                n: 1.0,
                half_light_radius: 0.5,
                q: 1.0,
                phi: 0.3,
                psf: Stamp::new(&psf).unwrap(),
            }],
        };
        let still = Realisation { rotation: 0.7, shear: [0.0, 0.0], magnification: 1.0, offset: [0.0, 0.0] };
        let size = 16;
        let image = catalog.draw(0, &still, size);
        let peak = image.iter().cloned().fold(0.0, f64::max);
        assert_eq!(image[(size / 2) * size + size / 2], peak, "the centre pixel is the brightest");
        for (a, b) in [((8, 5), (8, 11)), ((5, 8), (11, 8)), ((5, 5), (11, 11))] {
            let (va, vb) = (image[a.0 * size + a.1], image[b.0 * size + b.1]);
            assert!((va - vb).abs() < 1e-3 * peak, "{a:?} {va} vs {b:?} {vb}");
        }
    }
}
