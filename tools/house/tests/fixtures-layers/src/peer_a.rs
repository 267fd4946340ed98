//! Kept apart from peer_b, yet imports it.

use crate::peer_b::f;
