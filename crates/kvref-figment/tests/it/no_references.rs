//! no_references
