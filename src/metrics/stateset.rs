//! [`StateSet`]: an OpenMetrics state set, a fixed list of named boolean states kept as
//! a lock-free bitmask; [`StateSetConfig`] names the states.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::shared::{HasLifecycle, Shared};
use super::{Lifecycle, Metric, NewChild};
use crate::error::{Error, Result};
use crate::family::{MetricType, Value};

/// The most states a state set can have (one bit each in a `u64`).
pub const MAX_STATES: usize = 64;

/// The state names every state set of a vec is built with, in exposition order.
///
/// Validated by [`Metric::check_config`] (or [`StateSet::new`]): at least one and at
/// most [`MAX_STATES`] states, each non-empty, none repeated.
///
/// ```
/// use promsdk::{Metric, StateSet, StateSetConfig};
/// assert!(StateSet::check_config("mode", &StateSetConfig::new(&["a", "a"])).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StateSetConfig {
    states: Arc<[Arc<str>]>,
}

impl StateSetConfig {
    /// The states, in the order they are exposed.
    pub fn new(states: &[&str]) -> Self {
        StateSetConfig {
            states: states.iter().map(|&s| Arc::from(s)).collect(),
        }
    }

    /// The state names.
    pub fn states(&self) -> &[Arc<str>] {
        &self.states
    }
}

/// The lifecycle first, as in every metric's state (see [`Lifecycle`]): a gather asks for
/// the line after it, where the states and their bits are.
#[derive(Debug)]
#[repr(C)]
struct Core {
    lifecycle: Lifecycle,
    states: Arc<[Arc<str>]>,
    /// Bit `i` set = state `i` is set.
    bits: AtomicU64,
}

impl HasLifecycle for Core {
    fn lifecycle_mut(&mut self) -> &mut Lifecycle {
        &mut self.lifecycle
    }
}

/// A state set: which of a fixed list of states hold. Use [`StateSet::set`] for
/// independent flags and [`StateSet::set_only`] for an enum (exactly one state set).
///
/// Every update is one atomic operation on a bitmask, so a gather sees either the
/// state before or after a `set_only`, never zero or two states in between. No locks.
///
/// ```
/// use promsdk::{Metric, StateSet, StateSetConfig, Value};
/// let mode = StateSet::new(&StateSetConfig::new(&["starting", "running", "stopped"])).unwrap();
/// mode.set_only("running").unwrap();
/// assert!(mode.get("running").unwrap());
/// assert!(mode.set("crashed", true).is_err());
/// let Value::StateSet(states) = mode.value() else { unreachable!() };
/// let on: Vec<&str> = states.iter().filter(|(_, on)| *on).map(|(s, _)| &**s).collect();
/// assert_eq!(on, ["running"]);
/// ```
#[derive(Debug, Clone)]
pub struct StateSet(Shared<Core>);

impl StateSet {
    /// A state set with the given states, all unset, checked as
    /// [`Metric::check_config`] does (the error names no metric).
    pub fn new(config: &StateSetConfig) -> Result<Self> {
        Self::check_config("", config)?;
        Ok(Self::from_config(config, NewChild::default()))
    }

    /// The bit of `state`, or [`Error::UnknownState`] naming it.
    fn bit(&self, state: &str) -> Result<u64> {
        match self.0.states.iter().position(|s| &**s == state) {
            Some(i) if i < MAX_STATES => Ok(1 << i),
            _ => Err(Error::UnknownState {
                state: state.to_owned(),
                states: self.0.states.iter().map(|s| s.to_string()).collect(),
            }),
        }
    }

    /// Sets or clears `state`, leaving the others alone.
    pub fn set(&self, state: &str, on: bool) -> Result<()> {
        let bit = self.bit(state)?;
        // Relaxed: one atomic RMW per update; nothing else is published through it.
        if on {
            self.0.bits.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.0.bits.fetch_and(!bit, Ordering::Relaxed);
        }
        self.0.lifecycle.touch();
        Ok(())
    }

    /// Sets `state` and clears every other state, in one atomic store.
    pub fn set_only(&self, state: &str) -> Result<()> {
        let bit = self.bit(state)?;
        // Relaxed: a single store replaces the whole mask, so no reader sees a mix.
        self.0.bits.store(bit, Ordering::Relaxed);
        self.0.lifecycle.touch();
        Ok(())
    }

    /// Whether `state` is set.
    pub fn get(&self, state: &str) -> Result<bool> {
        let bit = self.bit(state)?;
        Ok(self.0.bits.load(Ordering::Relaxed) & bit != 0)
    }

    /// The configured states, in order.
    pub fn states(&self) -> &[Arc<str>] {
        &self.0.states
    }
}

impl Metric for StateSet {
    type Config = StateSetConfig;
    const TYPE: MetricType = MetricType::StateSet;

    fn check_config(metric: &str, config: &StateSetConfig) -> Result<()> {
        let error = |reason: String| {
            Err(Error::InvalidStates {
                metric: metric.to_owned(),
                reason,
            })
        };
        let states = &config.states;
        if states.is_empty() {
            return error("at least one state is required".into());
        }
        if states.len() > MAX_STATES {
            return error(format!(
                "{} states given, at most {MAX_STATES} allowed",
                states.len()
            ));
        }
        if states.iter().any(|s| s.is_empty()) {
            return error("state names must not be empty".into());
        }
        if let Some((i, s)) = states
            .iter()
            .enumerate()
            .find(|(i, s)| states[..*i].contains(s))
        {
            return error(format!("state {s:?} is given twice (#{i})"));
        }
        Ok(())
    }

    fn from_config(config: &StateSetConfig, child: NewChild<'_>) -> Self {
        StateSet(Shared::new(child, |lifecycle| Core {
            lifecycle,
            states: config.states.clone(),
            bits: AtomicU64::new(0),
        }))
    }

    fn value(&self) -> Value {
        // One load: all states come from the same moment.
        let bits = self.0.bits.load(Ordering::Relaxed);
        let states = self
            .0
            .states
            .iter()
            .take(MAX_STATES)
            .enumerate()
            .map(|(i, s)| (s.clone(), bits & (1 << i) != 0))
            .collect();
        Value::StateSet(states)
    }

    fn lifecycle(&self) -> &Lifecycle {
        &self.0.lifecycle
    }

    fn handle_count(&self) -> usize {
        self.0.handle_count()
    }

    fn into_handles<const N: usize>(self) -> [Self; N] {
        self.0.into_handles().map(StateSet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lifecycle comes first, its identity (which a lookup reads) off the line of the
    /// handle count (which a clone writes), without the over-alignment that takes the
    /// allocator's slow path.
    #[test]
    fn lifecycle_first_without_over_alignment() {
        crate::metrics::layout::assert_lifecycle_first(
            std::mem::offset_of!(Core, lifecycle),
            std::mem::align_of::<Core>(),
        );
    }

    fn states(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i}")).collect()
    }

    #[test]
    fn config_checks_name_the_metric() {
        let many = states(65);
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        for bad in [&[][..], &["a", ""], &["a", "b", "a"], &many] {
            let err = StateSet::check_config("mode", &StateSetConfig::new(bad)).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidStates { metric, .. } if metric == "mode"),
                "{err}"
            );
        }
        let max = &many[..64];
        let s = StateSet::new(&StateSetConfig::new(max)).unwrap();
        s.set("s63", true).unwrap();
        assert!(s.get("s63").unwrap() && !s.get("s62").unwrap());
    }

    #[test]
    fn set_and_clear_leave_other_states() {
        let s = StateSet::new(&StateSetConfig::new(&["a", "b", "c"])).unwrap();
        s.set("a", true).unwrap();
        s.set("c", true).unwrap();
        s.set("a", false).unwrap();
        assert_eq!(
            s.value(),
            Value::StateSet(vec![
                ("a".into(), false),
                ("b".into(), false),
                ("c".into(), true)
            ])
        );
        let err = s.get("d").unwrap_err();
        assert!(matches!(&err, Error::UnknownState { state, .. } if state == "d"));
    }

    #[test]
    fn concurrent_set_only_never_shows_zero_or_two_states() {
        let names = states(8);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let s = StateSet::new(&StateSetConfig::new(&names)).unwrap();
        s.set_only("s0").unwrap();
        std::thread::scope(|scope| {
            for t in 0..2 {
                let s = s.clone();
                let names = &names;
                scope.spawn(move || {
                    for i in 0..5_000 {
                        s.set_only(names[(i + t) % names.len()]).unwrap();
                    }
                });
            }
            for _ in 0..5_000 {
                let Value::StateSet(v) = s.value() else {
                    panic!("not a state set")
                };
                assert_eq!(v.iter().filter(|(_, on)| *on).count(), 1);
            }
        });
    }
}
