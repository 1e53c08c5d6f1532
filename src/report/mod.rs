//! What a conformance run produced, in one model every report is written from (JUnit and
//! Cucumber JSON come from cucumber's own writers; the HTML page, the YAML conformance report
//! and the coverage table from [`RunReport`]). The runner in `steps/` fills it.

pub mod coverage;
pub mod html;
pub mod model;
pub mod recorder;
pub mod redact;
pub mod yaml;

pub use model::*;
