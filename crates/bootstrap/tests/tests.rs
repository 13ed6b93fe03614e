//! Integration tests of the generator, in one binary. Tests that read generated files
//! back run `python3` from PATH (see `util::Oracle`).

mod util;

mod checks;
mod csv;
mod datasets;
mod escaping;
mod pii;
mod project;
mod properties;
mod reference;
mod snapshots;
mod writing;
