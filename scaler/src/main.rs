//! Placeholder until the scaler lands (issue 4).
fn main() {}
