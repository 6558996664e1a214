//! The int8 path (in progress).
