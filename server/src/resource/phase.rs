//! How adapter reports add up (docs/statuses.md): each adapter's phase
//! from its latest conditions, and the resource's phase from its required
//! adapters. Pure functions, so the rules are tested without a database.

use hyperfleet_api::{AdapterPhase, Condition, ConditionStatus, FINALIZED, Phase};

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
}
