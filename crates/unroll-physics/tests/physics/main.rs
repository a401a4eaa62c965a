//! Integration tests of `unroll-physics` (one test binary, so Burn is linked once).

mod common;
mod fft;
mod registry;
mod sampling;
mod testvectors;
