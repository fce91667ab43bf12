//! The labels of `measured`'s own multi-threaded benchmarks: an error kind (an enum of
//! 3) and an API route (one of 6 strings known up front), 18 combinations.

use crate::peers::{fixed_values, FixedValues};

/// The error kind, one type for every library that takes typed label values.
#[derive(
    Clone,
    Copy,
    Debug,
    Hash,
    PartialEq,
    Eq,
    measured::FixedCardinalityLabel,
    prometheus_client::encoding::EncodeLabelValue,
    fastmetrics::derive::EncodeLabelValue,
)]
pub enum Kind {
    User,
    Internal,
    Network,
}

const KINDS: [Kind; 3] = [Kind::User, Kind::Internal, Kind::Network];

impl Kind {
    /// The label value as a string, for libraries without typed label values.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Internal => "internal",
            Kind::Network => "network",
        }
    }
}

/// The routes, as in `measured`'s benchmarks.
pub const ROUTES: [&str; 6] = [
    "/api/v1/users",
    "/api/v1/users/:id",
    "/api/v1/products",
    "/api/v1/products/:id",
    "/api/v1/products/:id/owner",
    "/api/v1/products/:id/purchase",
];

/// The number of (kind, route) combinations.
pub const COMBINATIONS: usize = KINDS.len() * ROUTES.len();

/// The `i`-th (kind, route) combination, cycling through all of them.
pub fn combination(i: usize) -> (Kind, &'static str) {
    (
        KINDS[i % KINDS.len()],
        ROUTES[(i / KINDS.len()) % ROUTES.len()],
    )
}

/// `measured`'s read-only interner of the routes, for a `fixed_with` route label.
pub fn route_reader() -> FixedValues {
    fixed_values(ROUTES)
}
