//! Links llguidance's C API (`llg_*`, declared in its `llguidance.h`) into one static library.
pub use llguidance;
