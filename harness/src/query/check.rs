//! Refuses, before evaluation, the PromQL the parser accepts but this engine does not
//! evaluate as Prometheus 2.42 would (functions and syntax of later releases, native
//! histogram functions), naming the construct.

use promql_parser::parser::{Expr, VectorSelector};

use super::QueryError;

/// The functions evaluated, Prometheus 2.42's over float samples.
pub(super) const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "deg",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_quantile",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// The aggregations evaluated.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
];

/// `Ok` when every node of `expr` is evaluated by this engine.
pub(super) fn supported(expr: &Expr) -> Result<(), QueryError> {
    match expr {
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
        Expr::VectorSelector(vs) => selector(vs),
        Expr::MatrixSelector(ms) => selector(&ms.vs),
        Expr::Paren(p) => supported(&p.expr),
        Expr::Unary(u) => supported(&u.expr),
        Expr::Subquery(s) => {
            if s.step.is_some_and(|d| d.is_zero()) {
                return Err(QueryError::Unsupported("subquery step of zero".into()));
            }
            supported(&s.expr)
        }
        Expr::Binary(b) => {
            if let Some(m) = &b.modifier {
                if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
                    return Err(QueryError::Unsupported(
                        "binary operator modifier \"fill\"".into(),
                    ));
                }
            }
            supported(&b.lhs)?;
            supported(&b.rhs)
        }
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !AGGREGATIONS.contains(&op.as_str()) {
                return Err(QueryError::Unsupported(format!("aggregation \"{op}\"")));
            }
            if let Some(p) = &a.param {
                supported(p)?;
            }
            supported(&a.expr)
        }
        Expr::Call(c) => {
            if !FUNCTIONS.contains(&c.func.name) {
                return Err(QueryError::Unsupported(format!(
                    "function \"{}\"",
                    c.func.name
                )));
            }
            c.args.args.iter().try_for_each(|a| supported(a))
        }
        Expr::Extension(e) => Err(QueryError::Unsupported(format!(
            "expression \"{}\"",
            e.expr.name()
        ))),
    }
}

fn selector(vs: &VectorSelector) -> Result<(), QueryError> {
    if vs.matchers.or_matchers.is_empty() {
        Ok(())
    } else {
        Err(QueryError::Unsupported("label matcher \"or\"".into()))
    }
}
