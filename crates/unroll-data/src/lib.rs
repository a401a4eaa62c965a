//! unroll-data (in progress).
