//! `#[derive(LabelValue)]`: an enum of unit variants as a dense label value.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Error, Fields};

use crate::attrs;

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let Data::Enum(data) = &input.data else {
        return Err(Error::new_spanned(
            &input.ident,
            "derive(LabelValue) is for enums of unit variants; use derive(Labels) on the struct of labels",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &input.generics,
            "derive(LabelValue) does not support generic enums",
        ));
    }
    if data.variants.is_empty() {
        return Err(Error::new_spanned(
            &input.ident,
            "derive(LabelValue) needs at least one variant: an empty enum has no label value",
        ));
    }
    let name = &input.ident;
    let mut values: Vec<String> = Vec::new();
    let mut index_arms = Vec::new();
    let mut value_arms = Vec::new();
    for (i, variant) in data.variants.iter().enumerate() {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(Error::new_spanned(
                variant,
                "derive(LabelValue) supports unit variants only: a label value is one of a fixed set of names",
            ));
        }
        let attr = attrs::parse(&variant.attrs, false)?;
        let value = match &attr.rename {
            Some(rename) => rename.value(),
            None => attrs::snake_case(&variant.ident.to_string()),
        };
        if values.contains(&value) {
            return Err(Error::new_spanned(
                variant,
                format!("two variants have the label value {value:?}"),
            ));
        }
        let ident = &variant.ident;
        index_arms.push(quote! { #name::#ident => #i });
        value_arms.push(quote! { #name::#ident => #value });
        values.push(value);
    }
    let n = values.len();
    Ok(quote! {
        impl ::promsdk::LabelValue for #name {
            const CARDINALITY: ::core::option::Option<usize> = ::core::option::Option::Some(#n);

            #[inline]
            fn dense_index(&self) -> usize {
                match self {
                    #(#index_arms,)*
                }
            }

            #[inline]
            fn label_value<'v>(&'v self, _: &'v mut ::promsdk::typed_labels::ValueBuf) -> &'v str {
                match self {
                    #(#value_arms,)*
                }
            }
        }
    })
}
