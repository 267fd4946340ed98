//! Imports cyc_a through `super`.

use super::cyc_a::*;
