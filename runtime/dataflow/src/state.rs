//! Typed keyed state over the byte-level backend, with optional TTL. (Being written.)
