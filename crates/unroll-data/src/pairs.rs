//! Strict `[a, b]` pairs in configs: serde reads a fixed-size array from the first elements of a
//! list and ignores the rest, so `crop = [32, 32, 3]` would pass as `[32, 32]`. Use with
//! `#[serde(deserialize_with = "crate::pairs::pair")]`, or `optional_pair` with `default`.

use serde::de::Error;
use serde::{Deserialize, Deserializer};

/// Exactly two values.
pub fn pair<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<[T; 2], D::Error> {
    exactly_two(Vec::deserialize(deserializer)?)
}

/// Absent, or exactly two values.
pub fn optional_pair<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<[T; 2]>, D::Error> {
    Option::<Vec<T>>::deserialize(deserializer)?.map(exactly_two).transpose()
}

fn exactly_two<T, E: Error>(values: Vec<T>) -> Result<[T; 2], E> {
    let len = values.len();
    values.try_into().map_err(|_| E::invalid_length(len, &"two values, [a, b]"))
}
