//! `hyperfleet cluster|nodepool statuses`: every adapter's latest report on
//! a resource, as a table (ADAPTER, PHASE, OBSERVED, MESSAGE, AGE) or as the
//! API's object.

use chrono::Utc;
use hyperfleet_sdk::types;

use super::api::Failure;
use super::output::{self, Format};

pub fn print(list: &types::AdapterStatusList, format: Format) -> Result<(), Failure> {
    match format {
        Format::Json | Format::Yaml => output::document(list, format),
        Format::Name => output::emit(
            &list
                .statuses
                .iter()
                .map(|status| format!("adapter/{}\n", status.adapter_name))
                .collect::<String>(),
        ),
        Format::Table | Format::Wide => {
            let now = Utc::now();
            let header = ["ADAPTER", "PHASE", "OBSERVED", "MESSAGE", "AGE"]
                .map(String::from)
                .to_vec();
            let mut rows: Vec<Vec<String>> = list
                .statuses
                .iter()
                .map(|status| {
                    vec![
                        status.adapter_name.clone(),
                        status.phase.to_string(),
                        status.observed_generation.to_string(),
                        status.message.clone(),
                        output::age(status.updated_at, now),
                    ]
                })
                .collect();
            // The required adapters that never reported are what a
            // resource stuck in Pending waits for: show them too.
            for adapter in &list.pending_adapters {
                rows.push(vec![
                    adapter.clone(),
                    "-".into(),
                    "-".into(),
                    "has not reported".into(),
                    "-".into(),
                ]);
            }
            let summary = format!("phase {} at generation {}\n", list.phase, list.generation);
            output::emit(&(output::table(header, rows) + &summary))
        }
    }
}
