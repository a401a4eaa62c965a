//! unroll-models (in progress).
