//! Typed label sets: a struct of labels instead of a slice of strings. Enum, bool and
//! small-integer labels index a table (no hashing); string labels are hashed as usual.
//! The vec has the lifecycle of any vec (removal, TTL, a series limit) and exports the
//! same series a string vec would.

use std::time::Duration;

use promsdk::{encode, Counter, CounterVec, Format, LabelValue, Labels, Opts, Registry, TypedVec};

#[derive(LabelValue, Clone, Copy)]
enum Method {
    Get,
    Post,
    #[label(rename = "OPTIONS")]
    Options,
}

/// Every label dense: each update is an index into a per-thread table.
#[derive(Labels)]
struct Request {
    method: Method,
    /// Status codes up to 599 are indexed; anything larger still works, hashed.
    #[label(max = 599)]
    code: u16,
    cached: bool,
}

/// A string label: looked up by its value, borrowed for the call.
#[derive(Labels)]
struct Route<'a> {
    method: Method,
    #[label(rename = "route")]
    path: &'a str,
}

fn main() -> Result<(), promsdk::Error> {
    let registry = Registry::default();
    let requests: TypedVec<Request, Counter> = CounterVec::builder(
        Opts::new("http_requests_total", "Requests."),
        Request::NAMES,
    )
    .ttl(Duration::from_secs(300)) // idle series stop being exported and are freed
    .max_series(1_000) // past it, updates go to an overflow series
    .build_typed()?;
    let routes: TypedVec<Route<'static>, Counter> =
        TypedVec::new(Opts::new("http_route_requests_total", "Requests by route."))?;
    registry.register(requests.clone())?;
    registry.register(routes.clone())?;

    for (method, code) in [(Method::Get, 200), (Method::Get, 200), (Method::Post, 503)] {
        requests.update(
            &Request {
                method,
                code,
                cached: false,
            },
            |c| c.inc(),
        );
    }
    let options = requests.with(&Request {
        method: Method::Options,
        code: 204,
        cached: true,
    });
    options.inc();

    let path = String::from("/api/users");
    routes.update(
        &Route {
            method: Method::Get,
            path: &path,
        },
        |c| c.inc(),
    );

    // Series that are gone are removed as with string vecs.
    requests.remove(&Request {
        method: Method::Post,
        code: 503,
        cached: false,
    });
    requests.remove_matching(&[("cached", "true")])?;

    let mut body = Vec::new();
    encode(&registry.gather().families, Format::Text, &mut body);
    print!("{}", String::from_utf8_lossy(&body));
    Ok(())
}
