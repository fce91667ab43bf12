//! Typed label sets: a struct whose fields are the labels, derived with
//! `#[derive(promsdk::Labels)]`, looked up in a [`TypedVec`](crate::TypedVec).
//!
//! Each field is one label, named after the field (or `#[label(rename = "...")]`), in
//! declaration order. What a field's type does depends on its [`LabelValue`] impl:
//!
//! | field type | label value | lookup |
//! |---|---|---|
//! | enum with `#[derive(promsdk::LabelValue)]` (unit variants) | the variant's name in snake_case, or `#[label(rename = "...")]` | dense index |
//! | `bool` | `true` / `false` | dense index |
//! | `u8`, `u16` | the number | dense index |
//! | other unsigned integers with `#[label(max = N)]` (also `u8`/`u16`) | the number | dense index for `0..=N`, hashed above |
//! | other integers | the number | hashed |
//! | `String`, `&str`, `Cow<str>`, `Box<str>`, `Arc<str>` | the text | hashed |
//!
//! When every field is dense, a lookup computes one index into a per-thread table of
//! children: no hashing, no string compare, no lock. A struct with a hashed field is
//! looked up by its values, as [`MetricVec::update`](crate::MetricVec::update) does.
//! The dense fields of all labels together may have at most [`MAX_DENSE`] combinations,
//! checked when the vec is compiled.
//!
//! The derives are named after the traits they implement, as serde's are: the derive
//! `promsdk::Labels` implements the trait `promsdk::Labels` (which is unrelated to
//! [`LabelSet`](crate::LabelSet), the gathered set of label pairs).
//!
//! ```
//! use promsdk::{LabelValue, Labels};
//!
//! #[derive(LabelValue)]
//! enum Method {
//!     Get,
//!     Post,
//!     #[label(rename = "OPTIONS")]
//!     Options,
//! }
//!
//! #[derive(Labels)]
//! struct Request {
//!     method: Method,
//!     #[label(rename = "status_class")]
//!     class: u8,
//!     cached: bool,
//! }
//!
//! assert_eq!(Request::NAMES, ["method", "status_class", "cached"]);
//! assert_eq!(Request::DENSE_SIZE, 3 * 256 * 2);
//! let r = Request { method: Method::Options, class: 5, cached: true };
//! r.with_values(|values| assert_eq!(values, ["OPTIONS", "5", "true"]));
//! assert_eq!(r.dense_index(), Some((2 * 256 + 5) * 2 + 1));
//! ```
//!
//! A field of a type that cannot be a label value does not compile:
//!
//! ```compile_fail
//! #[derive(promsdk::Labels)]
//! struct Bad {
//!     ratio: f64, // `f64` cannot be a label value
//! }
//! ```
//!
//! nor does an enum variant with data:
//!
//! ```compile_fail
//! #[derive(promsdk::LabelValue)]
//! enum Bad {
//!     Code(u16), // derive(LabelValue) supports unit variants only
//! }
//! ```

use std::borrow::Cow;
use std::sync::Arc;

/// The most combinations the dense fields of one label struct may have (an enum of 16
/// variants and a `u16`): each thread that updates a [`TypedVec`](crate::TypedVec) keeps
/// a table of that many slots of 8 bytes, the first 1024 allocated with the table and
/// the others in pages of 256 as they are used (behind an index of 32 KiB at this limit).
pub const MAX_DENSE: usize = 1 << 20;

/// A struct of labels, one per field; derive it with `#[derive(promsdk::Labels)]` (see
/// the [module doc](self)).
pub trait Labels {
    /// This type with every lifetime `'static`: the type a [`TypedVec`](crate::TypedVec)
    /// is declared with, so that label structs borrowing their strings for a single
    /// lookup are accepted.
    type Static: Labels + 'static;

    /// The label names, in field order.
    const NAMES: &'static [&'static str];

    /// How many combinations the dense fields have (1 when there are none); at most
    /// [`MAX_DENSE`] for a struct used in a vec.
    const DENSE_SIZE: usize;

    /// Whether a field is hashed (a string, or an integer without a dense range): such
    /// a struct is looked up by its values.
    const HASHED: bool;

    /// The position of this combination of dense values, below
    /// [`Labels::DENSE_SIZE`], or `None` when a bounded integer is past its `max`.
    fn dense_index(&self) -> Option<usize>;

    /// Calls `f` with the label values, in field order.
    fn with_values<R>(&self, f: impl FnOnce(&[&str]) -> R) -> R;
}

/// The type of one field of a [`Labels`] struct: its label value, and whether it indexes
/// a dense table. Derive it for enums with `#[derive(promsdk::LabelValue)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a label value",
    label = "not a label value type",
    note = "label fields may be enums with #[derive(promsdk::LabelValue)], bool, integers, String, &str, Cow<str>, Box<str> or Arc<str>"
)]
pub trait LabelValue {
    /// How many values the type has when it indexes a dense table; `None` when its
    /// values are hashed.
    const CARDINALITY: Option<usize>;

    /// The value's position, below `CARDINALITY` (unused when it is `None`).
    fn dense_index(&self) -> usize;

    /// The label value's text; `buf` is room for text that has to be formatted.
    fn label_value<'v>(&'v self, buf: &'v mut ValueBuf) -> &'v str;
}

/// Room on the stack for a label value that is formatted (an integer's digits).
#[derive(Default)]
pub struct ValueBuf(itoa::Buffer);

impl ValueBuf {
    /// An empty buffer (nothing is initialised until a value is written).
    #[inline]
    pub fn new() -> Self {
        ValueBuf(itoa::Buffer::new())
    }

    /// Writes `n` in decimal and returns the text.
    #[inline]
    pub fn unsigned(&mut self, n: u64) -> &str {
        self.0.format(n)
    }

    /// Writes `n` in decimal and returns the text.
    #[inline]
    pub fn signed(&mut self, n: i64) -> &str {
        self.0.format(n)
    }
}

/// Multiplies the dense combinations so far by one field's (`None`: a hashed field adds
/// none), saturating: a product past [`MAX_DENSE`] is rejected where a vec is built.
/// Called by `#[derive(Labels)]`.
pub const fn dense_factor(size: usize, cardinality: Option<usize>) -> usize {
    match cardinality {
        Some(n) => size.saturating_mul(n),
        None => size,
    }
}

/// The number of values of a field with `#[label(max = max)]`, `0..=max` (saturating).
/// Called by `#[derive(Labels)]`.
pub const fn bounded_cardinality(max: u64) -> Option<usize> {
    if max >= usize::MAX as u64 {
        Some(usize::MAX)
    } else {
        Some(max as usize + 1)
    }
}

/// An unsigned integer field that may carry `#[label(max = N)]`.
#[diagnostic::on_unimplemented(
    message = "`#[label(max = N)]` needs an unsigned integer field, not `{Self}`",
    label = "not an unsigned integer"
)]
pub trait Bounded {
    /// The value, widened.
    fn to_u64(&self) -> u64;
}

macro_rules! unsigned {
    ($($t:ty => $cardinality:expr),*) => {$(
        impl LabelValue for $t {
            const CARDINALITY: Option<usize> = $cardinality;

            #[inline]
            fn dense_index(&self) -> usize {
                *self as usize
            }

            #[inline]
            fn label_value<'v>(&'v self, buf: &'v mut ValueBuf) -> &'v str {
                buf.unsigned(*self as u64)
            }
        }

        impl Bounded for $t {
            #[inline]
            fn to_u64(&self) -> u64 {
                *self as u64
            }
        }
    )*};
}

unsigned!(u8 => Some(1 << 8), u16 => Some(1 << 16), u32 => None, u64 => None, usize => None);

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl LabelValue for $t {
            const CARDINALITY: Option<usize> = None;

            #[inline]
            fn dense_index(&self) -> usize {
                0
            }

            #[inline]
            fn label_value<'v>(&'v self, buf: &'v mut ValueBuf) -> &'v str {
                buf.signed(*self as i64)
            }
        }
    )*};
}

signed!(i8, i16, i32, i64, isize);

impl LabelValue for bool {
    const CARDINALITY: Option<usize> = Some(2);

    #[inline]
    fn dense_index(&self) -> usize {
        usize::from(*self)
    }

    #[inline]
    fn label_value<'v>(&'v self, _: &'v mut ValueBuf) -> &'v str {
        if *self {
            "true"
        } else {
            "false"
        }
    }
}

macro_rules! text {
    ($($t:ty),*) => {$(
        impl LabelValue for $t {
            const CARDINALITY: Option<usize> = None;

            #[inline]
            fn dense_index(&self) -> usize {
                0
            }

            #[inline]
            fn label_value<'v>(&'v self, _: &'v mut ValueBuf) -> &'v str {
                self
            }
        }
    )*};
}

text!(str, String, Box<str>, Arc<str>, Cow<'_, str>);

impl<T: LabelValue + ?Sized> LabelValue for &T {
    const CARDINALITY: Option<usize> = T::CARDINALITY;

    #[inline]
    fn dense_index(&self) -> usize {
        T::dense_index(self)
    }

    #[inline]
    fn label_value<'v>(&'v self, buf: &'v mut ValueBuf) -> &'v str {
        T::label_value(self, buf)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use crate::{LabelValue, Labels};

    #[derive(LabelValue, Clone, Copy)]
    enum Kind {
        Read,
        WriteBack,
        #[label(rename = "DEL")]
        Delete,
    }

    #[derive(Labels)]
    struct Dense {
        kind: Kind,
        ok: bool,
        #[label(rename = "shard_id", max = 9)]
        shard: u32,
    }

    #[derive(Labels)]
    struct Mixed<'a> {
        r#type: Kind,
        path: &'a str,
        user: Cow<'a, str>,
        code: u16,
        delta: i32,
    }

    fn values(labels: &impl Labels) -> Vec<String> {
        labels.with_values(|v| v.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn enum_values_are_snake_case_or_renamed() {
        let mut buf = crate::typed_labels::ValueBuf::new();
        assert_eq!(Kind::Read.label_value(&mut buf), "read");
        assert_eq!(Kind::WriteBack.label_value(&mut buf), "write_back");
        assert_eq!(Kind::Delete.label_value(&mut buf), "DEL");
        assert_eq!(Kind::CARDINALITY, Some(3));
        assert_eq!(
            [Kind::Read, Kind::WriteBack, Kind::Delete].map(|k| k.dense_index()),
            [0, 1, 2]
        );
    }

    #[test]
    fn every_dense_combination_has_its_own_index() {
        assert_eq!(Dense::NAMES, ["kind", "ok", "shard_id"]);
        assert_eq!(Dense::DENSE_SIZE, 3 * 2 * 10);
        const { assert!(!Dense::HASHED) };
        let mut seen = [false; Dense::DENSE_SIZE];
        for kind in [Kind::Read, Kind::WriteBack, Kind::Delete] {
            for ok in [false, true] {
                for shard in 0..10 {
                    let labels = Dense { kind, ok, shard };
                    let i = labels.dense_index().unwrap();
                    assert!(!seen[i], "index {i} given twice");
                    seen[i] = true;
                }
            }
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn a_bounded_integer_past_its_max_has_no_dense_index() {
        let labels = Dense {
            kind: Kind::Read,
            ok: true,
            shard: 10,
        };
        assert_eq!(labels.dense_index(), None);
        assert_eq!(values(&labels), ["read", "true", "10"]);
    }

    #[test]
    fn strings_and_wide_integers_are_hashed_fields() {
        const { assert!(Mixed::HASHED) };
        assert_eq!(Mixed::NAMES, ["type", "path", "user", "code", "delta"]);
        // Only `r#type` and `code` are dense.
        assert_eq!(Mixed::DENSE_SIZE, 3 * 65536);
        let path = String::from("/api");
        let labels = Mixed {
            r#type: Kind::WriteBack,
            path: &path,
            user: Cow::Borrowed("ann"),
            code: 404,
            delta: -3,
        };
        assert_eq!(values(&labels), ["write_back", "/api", "ann", "404", "-3"]);
        assert_eq!(labels.dense_index(), Some(65536 + 404));
    }
}
