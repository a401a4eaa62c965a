//! The reconstructor trait shared by every model.

use unroll_physics::LinearOperator;

/// A learned reconstruction `y ↦ x̂` for measurements of the operator `Op`.
pub trait Reconstructor<Op: LinearOperator> {
    /// Reconstructs `y` (batched, `[N, ..]`) with the operator `op`, which carries the per-sample
    /// parameters (mask, coil maps, PSF, …). Returns every iterate in order; the last one is the
    /// reconstruction. Single-pass models return one element.
    fn reconstruct(&self, op: &Op, y: Op::Range) -> Vec<Op::Domain>;

    /// The final reconstruction.
    fn reconstruct_final(&self, op: &Op, y: Op::Range) -> Op::Domain {
        self.reconstruct(op, y).pop().expect("a reconstructor returns at least one iterate")
    }
}
