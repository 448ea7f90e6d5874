//! The Prometheus text formats as siplat reads them: the exposition format,
//! label matchers, and the metric names a `PromQL` expression reads. One parser and
//! one quantile estimate for every reader: the scaler's agents source, the
//! testbed's per-second P99, the demo's summary and the tests, so that what
//! a run is judged by is what the scaler acted on.

pub mod exposition;
pub mod histogram;
pub mod promql;
pub mod selector;

pub use exposition::{Sample, histogram_quantile, parse, parse_value};
pub use histogram::{Buckets, Cumulative, counter_growth};
pub use selector::{Matcher, Op, SelectorError, matches};
