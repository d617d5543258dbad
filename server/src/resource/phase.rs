//! How adapter reports add up (docs/statuses.md): each adapter's phase
//! from its latest conditions, the resource's phase and conditions from its
//! required adapters, and which adapters the configured order holds back.
//! Pure functions, so the rules are tested without a database.

use chrono::{DateTime, Utc};
use hyperfleet_api::{
    AdapterPhase, AdapterWaiting, Condition, ConditionStatus, FINALIZED, Phase, ResourceCondition,
    ResourceConditionType,
};

use crate::aggregation::AdapterGraph;

/// An adapter's phase at the resource's current `generation`.
pub fn adapter_phase(
    conditions: &[Condition],
    observed_generation: i64,
    generation: i64,
    terminating: bool,
) -> AdapterPhase {
    let has = |kind: &str, status: ConditionStatus| {
        conditions
            .iter()
            .any(|c| c.condition_type == kind && c.status == status)
    };
    let current = observed_generation == generation;
    let done = if terminating { FINALIZED } else { "Available" };
    if has("Health", ConditionStatus::False) {
        AdapterPhase::Failed
    } else if current && has(done, ConditionStatus::True) {
        AdapterPhase::Complete
    } else if current && has("Applied", ConditionStatus::True) {
        AdapterPhase::Running
    } else {
        AdapterPhase::Pending
    }
}

/// The message shown for an adapter: its report's own message, else the
/// message of the condition that decided its phase.
pub fn adapter_message(
    own: &str,
    conditions: &[Condition],
    phase: AdapterPhase,
    terminating: bool,
) -> String {
    if !own.is_empty() {
        return own.to_string();
    }
    let deciding = match phase {
        AdapterPhase::Failed => "Health",
        AdapterPhase::Complete if terminating => FINALIZED,
        AdapterPhase::Complete => "Available",
        AdapterPhase::Running | AdapterPhase::Pending => "Applied",
    };
    conditions
        .iter()
        .find(|c| c.condition_type == deciding)
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// Is every required adapter complete?
pub fn all_complete(required: &[String], adapters: &[(&str, AdapterPhase)]) -> bool {
    required.iter().all(|name| {
        adapters
            .iter()
            .any(|(n, p)| n == name && *p == AdapterPhase::Complete)
    })
}

/// The resource's phase and the message that explains it.
///
/// `adapters` holds every adapter that has reported, with its phase at the
/// current generation; `required` are the adapters that must be complete.
pub fn resource_phase(
    required: &[String],
    adapters: &[(&str, AdapterPhase)],
    terminating: bool,
) -> (Phase, String) {
    let phase_of = |name: &str| adapters.iter().find(|(n, _)| *n == name).map(|(_, p)| *p);
    let waiting: Vec<String> = required
        .iter()
        .filter_map(|name| match phase_of(name) {
            Some(AdapterPhase::Complete) => None,
            Some(AdapterPhase::Failed) => Some(format!("{name} (Failed)")),
            _ => Some(name.clone()),
        })
        .collect();
    if terminating {
        let message = if waiting.is_empty() {
            "all required adapters have finalized".to_string()
        } else {
            format!("deleting: waiting for {} to finalize", waiting.join(", "))
        };
        return (Phase::Terminating, message);
    }
    if waiting.is_empty() {
        let message = if required.is_empty() {
            "no adapters are required"
        } else {
            "all required adapters are complete"
        };
        return (Phase::Ready, message.to_string());
    }
    let phase = if adapters.is_empty() {
        Phase::Pending
    } else {
        Phase::NotReady
    };
    (phase, format!("waiting for {}", waiting.join(", ")))
}

/// One adapter as the ordering rules see it.
#[derive(Clone, Copy, Debug)]
pub struct AdapterState<'a> {
    pub name: &'a str,
    pub phase: AdapterPhase,
    pub observed_generation: i64,
}

/// The required adapters the configured order holds back, in the
/// configured order (docs/statuses.md#adapter-order). Outside deletion, an
/// adapter that has not reported at `generation` waits for what it comes
/// `after` until that is complete; during deletion the order runs in
/// reverse: an adapter that has not finalized waits for the adapters that
/// come after it to finalize.
pub fn waiting(
    graph: &AdapterGraph,
    adapters: &[AdapterState<'_>],
    generation: i64,
    terminating: bool,
) -> Vec<AdapterWaiting> {
    let state = |name: &str| adapters.iter().find(|a| a.name == name);
    let complete = |name: &str| state(name).is_some_and(|a| a.phase == AdapterPhase::Complete);
    graph
        .names()
        .iter()
        .filter_map(|name| {
            let (waiting_for, verb): (Vec<String>, &str) = if terminating {
                if complete(name) {
                    return None;
                }
                let later = graph.before(name);
                (
                    later.into_iter().filter(|n| !complete(n)).collect(),
                    "finalize",
                )
            } else {
                if state(name).is_some_and(|a| a.observed_generation == generation) {
                    return None;
                }
                let earlier = graph.after(name).iter();
                (
                    earlier.filter(|n| !complete(n)).cloned().collect(),
                    "complete",
                )
            };
            if waiting_for.is_empty() {
                return None;
            }
            let message = format!("Waiting for {} to {verb}", and_list(&waiting_for));
            Some(AdapterWaiting {
                adapter: name.clone(),
                waiting_for,
                message,
            })
        })
        .collect()
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Condition reasons: the granular states the four phases cannot express.
pub mod reason {
    pub const RECONCILED: &str = "Reconciled";
    pub const PROVISIONING: &str = "Provisioning";
    pub const UPDATING: &str = "Updating";
    pub const FAILED: &str = "Failed";
    pub const DELETING: &str = "Deleting";
    pub const NEVER_RECONCILED: &str = "NeverReconciled";
    pub const ALL_ADAPTERS_READY: &str = "AllAdaptersReady";
    pub const PASSED: &str = "Passed";
    pub const VALIDATING: &str = "Validating";
    pub const PENDING: &str = "Pending";
    pub const ADAPTER_FAILED: &str = "AdapterFailed";
    pub const HEALTHY: &str = "Healthy";
}

/// The adapter whose verdict `ValidationPassed` reports.
pub const VALIDATION_ADAPTER: &str = "validation";

/// What the resource conditions are computed from.
pub struct ConditionInputs<'a> {
    /// The required adapters.
    pub required: &'a [String],
    /// Every adapter that has reported, with its phase at `generation`.
    pub adapters: &'a [(&'a str, AdapterPhase)],
    pub generation: i64,
    pub terminating: bool,
    /// The resource's phase message, which says what it waits for.
    pub phase_message: &'a str,
    /// The conditions as stored before this change (empty for a new
    /// resource): transition times and the sticky `LastKnownReconciled`
    /// come from them.
    pub previous: &'a [ResourceCondition],
    pub now: DateTime<Utc>,
}

/// The resource's conditions (docs/statuses.md#resource-conditions), in
/// the order of [`ResourceConditionType::ALL`]; `ValidationPassed` only
/// when a `validation` adapter is required.
pub fn resource_conditions(inputs: &ConditionInputs<'_>) -> Vec<ResourceCondition> {
    use ConditionStatus::{False, True, Unknown};
    use ResourceConditionType as T;
    let g = inputs.generation;
    let phase_of = |name: &str| {
        inputs
            .adapters
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
    };
    let failed: Vec<String> = inputs
        .required
        .iter()
        .filter(|name| phase_of(name) == Some(AdapterPhase::Failed))
        .cloned()
        .collect();
    let complete = all_complete(inputs.required, inputs.adapters);
    let reconciled = complete && !inputs.terminating;
    let previous = |kind: T| {
        inputs
            .previous
            .iter()
            .find(|c| c.condition_type == kind.as_str())
    };
    let last_known = previous(T::LastKnownReconciled);
    // Reconciled at some generation, whatever has happened since: the
    // sticky condition is True, or False only because of a failure since.
    let ever_reconciled =
        reconciled || last_known.is_some_and(|c| c.status == True || c.reason == reason::FAILED);
    let failing = format!("{} failed (Health=False)", and_list(&failed));
    let not_reconciled_reason = if inputs.terminating {
        reason::DELETING
    } else if !failed.is_empty() {
        reason::FAILED
    } else if ever_reconciled {
        reason::UPDATING
    } else {
        reason::PROVISIONING
    };
    let mut conditions = Vec::new();
    let mut push = |kind: T, status, reason: &str, message: String, observed: i64| {
        conditions.push(ResourceCondition {
            condition_type: kind.as_str().to_string(),
            status,
            reason: reason.to_string(),
            message,
            last_transition_time: previous(kind)
                .filter(|c| c.status == status)
                .map_or(inputs.now, |c| c.last_transition_time),
            observed_generation: observed,
        });
    };

    if reconciled {
        push(
            T::Reconciled,
            True,
            reason::RECONCILED,
            inputs.phase_message.into(),
            g,
        );
    } else {
        push(
            T::Reconciled,
            False,
            not_reconciled_reason,
            inputs.phase_message.into(),
            g,
        );
    }

    // The generation last reconciled travels in observed_generation.
    let last_generation = last_known.map_or(g, |c| c.observed_generation);
    if reconciled {
        push(
            T::LastKnownReconciled,
            True,
            reason::RECONCILED,
            format!("reconciled at generation {g}"),
            g,
        );
    } else if ever_reconciled
        && (!failed.is_empty() || last_known.is_some_and(|c| c.status == False))
    {
        let message = if failed.is_empty() {
            format!("an adapter failed since generation {last_generation} was reconciled")
        } else {
            format!("{failing} since generation {last_generation} was reconciled")
        };
        push(
            T::LastKnownReconciled,
            False,
            reason::FAILED,
            message,
            last_generation,
        );
    } else if ever_reconciled {
        push(
            T::LastKnownReconciled,
            True,
            reason::RECONCILED,
            format!("last reconciled at generation {last_generation}"),
            last_generation,
        );
    } else {
        push(
            T::LastKnownReconciled,
            False,
            reason::NEVER_RECONCILED,
            "not reconciled at any generation yet".into(),
            g,
        );
    }

    if complete {
        push(
            T::AllAdaptersReady,
            True,
            reason::ALL_ADAPTERS_READY,
            inputs.phase_message.into(),
            g,
        );
    } else {
        push(
            T::AllAdaptersReady,
            False,
            not_reconciled_reason,
            inputs.phase_message.into(),
            g,
        );
    }

    if inputs.required.iter().any(|n| n == VALIDATION_ADAPTER) {
        match (inputs.terminating, previous(T::ValidationPassed)) {
            // Deletion does not re-validate: the last verdict stands.
            (true, Some(kept)) => push(
                T::ValidationPassed,
                kept.status,
                &kept.reason,
                kept.message.clone(),
                kept.observed_generation,
            ),
            (true, None) => push(
                T::ValidationPassed,
                Unknown,
                reason::DELETING,
                "deleted before validation gave a verdict".into(),
                g,
            ),
            (false, _) => {
                let (status, why, message) = match phase_of(VALIDATION_ADAPTER) {
                    Some(AdapterPhase::Complete) => (
                        True,
                        reason::PASSED,
                        format!("validation passed on generation {g}"),
                    ),
                    Some(AdapterPhase::Failed) => (
                        False,
                        reason::FAILED,
                        "validation failed (Health=False)".to_string(),
                    ),
                    Some(AdapterPhase::Running) => (
                        Unknown,
                        reason::VALIDATING,
                        format!("validation is running on generation {g}"),
                    ),
                    Some(AdapterPhase::Pending) | None => (
                        Unknown,
                        reason::PENDING,
                        format!("validation has not reported on generation {g}"),
                    ),
                };
                push(T::ValidationPassed, status, why, message, g);
            }
        }
    }

    if failed.is_empty() {
        push(
            T::Degraded,
            False,
            reason::HEALTHY,
            "no required adapter is failing".into(),
            g,
        );
    } else if ever_reconciled {
        push(T::Degraded, True, reason::ADAPTER_FAILED, failing, g);
    } else {
        // Failing before it ever worked is a failed provisioning (see
        // Reconciled), not a degradation.
        push(
            T::Degraded,
            False,
            reason::PROVISIONING,
            format!("never reconciled; {failing}"),
            g,
        );
    }
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn conditions(list: &[(&str, ConditionStatus)]) -> Vec<Condition> {
        list.iter()
            .map(|(kind, status)| Condition {
                condition_type: kind.to_string(),
                status: *status,
                reason: String::new(),
                message: format!("{kind} message"),
                last_transition_time: Utc::now(),
            })
            .collect()
    }

    use ConditionStatus::{False, True, Unknown};

    #[test]
    fn adapter_phases() {
        let complete = conditions(&[("Applied", True), ("Available", True), ("Health", True)]);
        let running = conditions(&[("Applied", True), ("Available", False), ("Health", True)]);
        let pending = conditions(&[("Applied", False), ("Available", Unknown), ("Health", True)]);
        let failed = conditions(&[("Applied", True), ("Available", True), ("Health", False)]);
        assert_eq!(
            adapter_phase(&complete, 2, 2, false),
            AdapterPhase::Complete
        );
        assert_eq!(adapter_phase(&running, 2, 2, false), AdapterPhase::Running);
        assert_eq!(adapter_phase(&pending, 2, 2, false), AdapterPhase::Pending);
        // An old generation is not complete, whatever it says...
        assert_eq!(adapter_phase(&complete, 1, 2, false), AdapterPhase::Pending);
        // ...but Health=False fails whatever its generation.
        assert_eq!(adapter_phase(&failed, 1, 2, false), AdapterPhase::Failed);
        // While terminating, Finalized decides completeness.
        assert_eq!(adapter_phase(&complete, 2, 2, true), AdapterPhase::Running);
        let finalized = conditions(&[
            ("Applied", True),
            ("Available", False),
            ("Health", True),
            ("Finalized", True),
        ]);
        assert_eq!(
            adapter_phase(&finalized, 2, 2, true),
            AdapterPhase::Complete
        );
    }

    #[test]
    fn adapter_messages() {
        let running = conditions(&[("Applied", True), ("Available", False), ("Health", True)]);
        assert_eq!(
            adapter_message("own", &running, AdapterPhase::Running, false),
            "own"
        );
        assert_eq!(
            adapter_message("", &running, AdapterPhase::Running, false),
            "Applied message"
        );
        assert_eq!(
            adapter_message("", &running, AdapterPhase::Failed, false),
            "Health message"
        );
        assert_eq!(
            adapter_message("", &running, AdapterPhase::Complete, false),
            "Available message"
        );
    }

    #[test]
    fn resource_phases() {
        let required: Vec<String> = ["validation", "dns", "infrastructure"]
            .map(String::from)
            .to_vec();
        use AdapterPhase::*;
        assert_eq!(
            resource_phase(&required, &[], false),
            (
                Phase::Pending,
                "waiting for validation, dns, infrastructure".into()
            )
        );
        assert_eq!(
            resource_phase(
                &required,
                &[
                    ("validation", Complete),
                    ("dns", Running),
                    ("infrastructure", Pending)
                ],
                false
            ),
            (Phase::NotReady, "waiting for dns, infrastructure".into())
        );
        assert_eq!(
            resource_phase(
                &required,
                &[
                    ("validation", Complete),
                    ("dns", Failed),
                    ("infrastructure", Complete)
                ],
                false
            ),
            (Phase::NotReady, "waiting for dns (Failed)".into())
        );
        // An adapter nobody requires still counts as "someone reported".
        assert_eq!(
            resource_phase(&required, &[("extra", Complete)], false).0,
            Phase::NotReady
        );
        let all = [
            ("validation", Complete),
            ("dns", Complete),
            ("infrastructure", Complete),
            ("extra", Failed),
        ];
        assert_eq!(
            resource_phase(&required, &all, false),
            (Phase::Ready, "all required adapters are complete".into())
        );
        assert_eq!(
            resource_phase(&[], &[], false),
            (Phase::Ready, "no adapters are required".into())
        );
        assert_eq!(resource_phase(&required, &all, true).0, Phase::Terminating);
    }

    fn status_of(conditions: &[ResourceCondition], kind: &str) -> (ConditionStatus, String) {
        let c = conditions
            .iter()
            .find(|c| c.condition_type == kind)
            .unwrap_or_else(|| panic!("no {kind} in {conditions:?}"));
        (c.status, c.reason.clone())
    }

    #[test]
    fn conditions_through_a_lifecycle() {
        use AdapterPhase::*;
        let required: Vec<String> = ["validation", "dns"].map(String::from).to_vec();
        let start = Utc::now();
        let step = |adapters: &[(&str, AdapterPhase)],
                    generation,
                    terminating,
                    previous: &[ResourceCondition],
                    minutes| {
            resource_conditions(&ConditionInputs {
                required: &required,
                adapters,
                generation,
                terminating,
                phase_message: "message",
                previous,
                now: start + chrono::Duration::minutes(minutes),
            })
        };
        let check = |conditions: &[ResourceCondition],
                     expected: [(&str, ConditionStatus, &str); 5]| {
            for (kind, status, why) in expected {
                assert_eq!(
                    status_of(conditions, kind),
                    (status, why.to_string()),
                    "{kind}"
                );
            }
        };
        // Created.
        let created = step(&[], 1, false, &[], 0);
        check(
            &created,
            [
                ("Reconciled", False, "Provisioning"),
                ("LastKnownReconciled", False, "NeverReconciled"),
                ("AllAdaptersReady", False, "Provisioning"),
                ("ValidationPassed", Unknown, "Pending"),
                ("Degraded", False, "Healthy"),
            ],
        );
        // A failure before it ever worked is Failed, not Degraded.
        let failing = step(&[("validation", Failed)], 1, false, &created, 1);
        check(
            &failing,
            [
                ("Reconciled", False, "Failed"),
                ("LastKnownReconciled", False, "NeverReconciled"),
                ("AllAdaptersReady", False, "Failed"),
                ("ValidationPassed", False, "Failed"),
                ("Degraded", False, "Provisioning"),
            ],
        );
        // Ready.
        let ready = step(
            &[("validation", Complete), ("dns", Complete)],
            1,
            false,
            &failing,
            2,
        );
        check(
            &ready,
            [
                ("Reconciled", True, "Reconciled"),
                ("LastKnownReconciled", True, "Reconciled"),
                ("AllAdaptersReady", True, "AllAdaptersReady"),
                ("ValidationPassed", True, "Passed"),
                ("Degraded", False, "Healthy"),
            ],
        );
        assert_eq!(
            ready[0].last_transition_time,
            start + chrono::Duration::minutes(2)
        );
        // PATCH: generation 2, nobody has reported on it.
        let patched = step(
            &[("validation", Pending), ("dns", Pending)],
            2,
            false,
            &ready,
            3,
        );
        check(
            &patched,
            [
                ("Reconciled", False, "Updating"),
                ("LastKnownReconciled", True, "Reconciled"),
                ("AllAdaptersReady", False, "Updating"),
                ("ValidationPassed", Unknown, "Pending"),
                ("Degraded", False, "Healthy"),
            ],
        );
        // Sticky: still True, still the time and generation of its turn.
        assert_eq!(
            patched[1].last_transition_time,
            ready[1].last_transition_time
        );
        assert_eq!(patched[1].observed_generation, 1);
        // Degraded when an adapter fails after a reconciliation.
        let degraded = step(
            &[("validation", Complete), ("dns", Failed)],
            2,
            false,
            &patched,
            4,
        );
        check(
            &degraded,
            [
                ("Reconciled", False, "Failed"),
                ("LastKnownReconciled", False, "Failed"),
                ("AllAdaptersReady", False, "Failed"),
                ("ValidationPassed", True, "Passed"),
                ("Degraded", True, "AdapterFailed"),
            ],
        );
        // Healthy again but not done: no longer Degraded, and not
        // LastKnownReconciled until it is reconciled again.
        let healing = step(
            &[("validation", Complete), ("dns", Running)],
            2,
            false,
            &degraded,
            5,
        );
        check(
            &healing,
            [
                ("Reconciled", False, "Updating"),
                ("LastKnownReconciled", False, "Failed"),
                ("AllAdaptersReady", False, "Updating"),
                ("ValidationPassed", True, "Passed"),
                ("Degraded", False, "Healthy"),
            ],
        );
        let recovered = step(
            &[("validation", Complete), ("dns", Complete)],
            2,
            false,
            &healing,
            6,
        );
        check(
            &recovered,
            [
                ("Reconciled", True, "Reconciled"),
                ("LastKnownReconciled", True, "Reconciled"),
                ("AllAdaptersReady", True, "AllAdaptersReady"),
                ("ValidationPassed", True, "Passed"),
                ("Degraded", False, "Healthy"),
            ],
        );
        assert_eq!(recovered[1].observed_generation, 2);
        // Deleting: the validation verdict stands.
        let deleting = step(
            &[("validation", Running), ("dns", Running)],
            3,
            true,
            &recovered,
            7,
        );
        check(
            &deleting,
            [
                ("Reconciled", False, "Deleting"),
                ("LastKnownReconciled", True, "Reconciled"),
                ("AllAdaptersReady", False, "Deleting"),
                ("ValidationPassed", True, "Passed"),
                ("Degraded", False, "Healthy"),
            ],
        );
    }

    #[test]
    fn validation_passed_only_when_validation_is_required() {
        let required = vec!["dns".to_string()];
        let conditions = resource_conditions(&ConditionInputs {
            required: &required,
            adapters: &[],
            generation: 1,
            terminating: false,
            phase_message: "",
            previous: &[],
            now: Utc::now(),
        });
        let kinds: Vec<&str> = conditions
            .iter()
            .map(|c| c.condition_type.as_str())
            .collect();
        assert_eq!(
            kinds,
            [
                "Reconciled",
                "LastKnownReconciled",
                "AllAdaptersReady",
                "Degraded"
            ]
        );
    }

    #[test]
    fn the_order_holds_adapters_back() {
        use AdapterPhase::*;
        let graph = crate::aggregation::AggregationConfig::default().cluster;
        let state = |name, phase, observed_generation| AdapterState {
            name,
            phase,
            observed_generation,
        };
        let who = |list: Vec<AdapterWaiting>| {
            list.into_iter()
                .map(|w| (w.adapter, w.waiting_for.join(","), w.message))
                .collect::<Vec<_>>()
        };
        let row = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(
            who(waiting(&graph, &[], 1, false)),
            [
                row("dns", "validation", "Waiting for validation to complete"),
                row(
                    "infrastructure",
                    "validation,dns",
                    "Waiting for validation and dns to complete"
                ),
            ]
        );
        let validated = [state("validation", Complete, 1)];
        assert_eq!(
            who(waiting(&graph, &validated, 1, false)),
            [row("infrastructure", "dns", "Waiting for dns to complete")]
        );
        // An adapter that has reported at this generation is under way.
        let started = [
            state("validation", Complete, 1),
            state("infrastructure", Running, 1),
        ];
        assert!(waiting(&graph, &started, 1, false).is_empty());
        // Deletion runs in reverse.
        let deleting = [
            state("validation", Running, 2),
            state("dns", Running, 2),
            state("infrastructure", Complete, 2),
        ];
        assert_eq!(
            who(waiting(&graph, &deleting, 2, true)),
            [row("validation", "dns", "Waiting for dns to finalize")]
        );
    }
}
