//! `low::moved`, found through `#[path]`.

use crate::top_path::f;
