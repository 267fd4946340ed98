//! Imports cyc_b, which imports it back.

use crate::cyc_b;
