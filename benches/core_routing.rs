//! Routing benchmarks.
fn main() {}
