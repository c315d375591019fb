//! The executor side of pod and namespace nodes (reference §6): what a Zuul executor (or a
//! person debugging a node) needs once a node request is fulfilled.

pub mod pyyaml;
