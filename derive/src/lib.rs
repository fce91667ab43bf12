//! Derive macros for promsdk's typed label sets. Use them through `promsdk`, which
//! re-exports both under the names of the traits they implement:
//!
//! - `#[derive(promsdk::Labels)]` on a struct with named fields: one label per field,
//!   named after the field (or `#[label(rename = "...")]`), in declaration order.
//! - `#[derive(promsdk::LabelValue)]` on an enum of unit variants: the label value is the
//!   variant's name in snake_case (or `#[label(rename = "...")]`), and the variant's
//!   position indexes a dense table instead of being hashed.
//!
//! An unsigned integer field may carry `#[label(max = N)]`: its values `0..=N` then index
//! the dense table (larger values are looked up by their text, as string fields are).
//!
//! The generated code names `::promsdk`, so the crate using the derives must depend on
//! `promsdk` under that name. See `promsdk::typed_labels` for what each field type does.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod attrs;
mod label_value;
mod labels;

/// Implements `promsdk::Labels` for a struct with named fields: each field is one label.
///
/// Field attributes: `#[label(rename = "name")]` (the label name; default: the field's
/// name) and, on unsigned integer fields, `#[label(max = N)]` (values `0..=N` index the
/// dense table).
#[proc_macro_derive(Labels, attributes(label))]
pub fn derive_labels(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    labels::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `promsdk::LabelValue` for an enum of unit variants: the value is the
/// variant's name in snake_case, or that of `#[label(rename = "value")]`.
#[proc_macro_derive(LabelValue, attributes(label))]
pub fn derive_label_value(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    label_value::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
