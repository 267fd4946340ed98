//! Loading a station file. (Stub: being written.)

use std::path::Path;

use super::Station;
use crate::diag::Diagnostics;

/// A station (when there were no errors) and every diagnostic found.
pub struct Loaded {
    pub station: Option<Station>,
    pub diagnostics: Diagnostics,
}

pub fn load(_path: &Path) -> Loaded {
    Loaded {
        station: None,
        diagnostics: Diagnostics::default(),
    }
}

pub fn load_str(_text: &str, _path: &Path, _probe: bool) -> Loaded {
    Loaded {
        station: None,
        diagnostics: Diagnostics::default(),
    }
}
