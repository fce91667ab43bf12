//! Placeholder: the end-to-end check against a real Prometheus comes next.
