//! unroll-train (in progress).
