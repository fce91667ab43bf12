//! `#[derive(Labels)]`: a struct with named fields as a label set, one label per field.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Error, Fields, GenericParam, Lifetime};

use crate::attrs;

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => &named.named,
            _ => {
                return Err(Error::new_spanned(
                    &input.ident,
                    "derive(Labels) needs a struct with named fields: each field names a label",
                ))
            }
        },
        _ => {
            return Err(Error::new_spanned(
                &input.ident,
                "derive(Labels) is for structs with named fields; for an enum of label values use derive(LabelValue)",
            ))
        }
    };
    if fields.is_empty() {
        return Err(Error::new_spanned(
            &input.ident,
            "derive(Labels) needs at least one field: a vec without labels is a plain metric",
        ));
    }
    for param in &input.generics.params {
        if !matches!(param, GenericParam::Lifetime(_)) {
            return Err(Error::new_spanned(
                param,
                "derive(Labels) supports lifetime parameters only (for borrowed &str fields)",
            ));
        }
    }

    let mut names: Vec<String> = Vec::new();
    let mut factors = Vec::new();
    let mut hashed = Vec::new();
    let mut index_steps = Vec::new();
    let mut buffers = Vec::new();
    let mut values = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let Some(ident) = field.ident.as_ref() else {
            return Err(Error::new_spanned(
                field,
                "derive(Labels) needs named fields",
            ));
        };
        let ty = &field.ty;
        let attr = attrs::parse(&field.attrs, true)?;
        let name = match &attr.rename {
            Some(rename) => rename.value(),
            None => ident.to_string().trim_start_matches("r#").to_owned(),
        };
        if let Some(problem) = attrs::label_name_problem(&name) {
            let span = attr
                .rename
                .as_ref()
                .map_or_else(|| ident.span(), |r| r.span());
            return Err(Error::new(span, format!("label name {name:?}: {problem}")));
        }
        if names.contains(&name) {
            return Err(Error::new_spanned(
                field,
                format!("two fields have the label name {name:?}"),
            ));
        }
        names.push(name);

        match &attr.max {
            Some(max) => {
                // The dense table holds values 0..=max; a larger one is looked up by text.
                let max = proc_macro2::Literal::u64_suffixed(max.base10_parse::<u64>()?);
                factors.push(quote! {
                    ::promsdk::typed_labels::bounded_cardinality(#max)
                });
                index_steps.push(quote! {
                    let value = ::promsdk::typed_labels::Bounded::to_u64(&self.#ident);
                    if value > #max {
                        return ::core::option::Option::None;
                    }
                    // Wrapping: `DENSE_SIZE`, checked when a vec is built, bounds the
                    // product, so nothing wraps in a vec's lookups.
                    let index = index
                        .wrapping_mul((#max as usize).wrapping_add(1))
                        .wrapping_add(value as usize);
                });
            }
            None => {
                factors.push(quote! { <#ty as ::promsdk::LabelValue>::CARDINALITY });
                hashed.push(quote! { <#ty as ::promsdk::LabelValue>::CARDINALITY.is_none() });
                index_steps.push(quote! {
                    let index = match <#ty as ::promsdk::LabelValue>::CARDINALITY {
                        ::core::option::Option::Some(n) => index
                            .wrapping_mul(n)
                            .wrapping_add(::promsdk::LabelValue::dense_index(&self.#ident)),
                        ::core::option::Option::None => index,
                    };
                });
            }
        }
        let buf = quote::format_ident!("buf{}", i);
        buffers.push(quote! { let mut #buf = ::promsdk::typed_labels::ValueBuf::new(); });
        values.push(quote! { ::promsdk::LabelValue::label_value(&self.#ident, &mut #buf) });
    }

    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let statics = input
        .generics
        .lifetimes()
        .map(|_| Lifetime::new("'static", proc_macro2::Span::call_site()));
    let static_ty = if input.generics.params.is_empty() {
        quote! { #name }
    } else {
        quote! { #name<#(#statics),*> }
    };
    let hashed = if hashed.is_empty() {
        quote! { false }
    } else {
        quote! { #(#hashed)||* }
    };
    Ok(quote! {
        impl #impl_generics ::promsdk::Labels for #name #ty_generics #where_clause {
            type Static = #static_ty;

            const NAMES: &'static [&'static str] = &[#(#names),*];

            const DENSE_SIZE: usize = {
                let size = 1usize;
                #(let size = ::promsdk::typed_labels::dense_factor(size, #factors);)*
                size
            };

            const HASHED: bool = #hashed;

            #[inline]
            fn dense_index(&self) -> ::core::option::Option<usize> {
                let index = 0usize;
                #(#index_steps)*
                ::core::option::Option::Some(index)
            }

            #[inline]
            fn with_values<R>(&self, f: impl ::core::ops::FnOnce(&[&str]) -> R) -> R {
                #(#buffers)*
                f(&[#(#values),*])
            }
        }
    })
}
