//! What a model is built for, and the check that it can serve it.

use unroll_physics::{Family, ViewKind};

/// The context a model is built from: its signal layout, the image shape, the problem and the
/// operator family (and with it the views of [`unroll_physics::Physics`] the model may use).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelContext {
    /// Network channels of the signal (see `Signal::to_channels`: complex images count twice).
    pub channels: usize,
    /// Clean image shape `[C, H, W]`.
    pub image_shape: [usize; 3],
    /// The problem's config name (`multicoil_mri`, `blur`, …), for messages.
    pub problem: &'static str,
    /// The operator family.
    pub family: Family,
}

/// An error naming the model and the problem unless `family` offers every view in `needs`.
pub fn check_views(model: &str, needs: &[ViewKind], problem: &str, family: Family) -> Result<(), String> {
    match needs.iter().find(|view| !family.offers(**view)) {
        None => Ok(()),
        Some(view) => Err(format!(
            "model `{model}` needs {view}, which problem `{problem}` ({family} operators) does not offer; \
             choose a model for {family} or another problem"
        )),
    }
}

/// `true`, for `#[serde(default = "…")]` of the switches that are on unless turned off.
pub(crate) fn on() -> bool {
    true
}
