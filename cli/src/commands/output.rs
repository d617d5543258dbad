//! How `hyperfleet cluster|nodepool` print what the API answered: `-o
//! table` (the default), `wide`, `json` (the API's JSON, re-serialised from
//! the SDK's types: the same fields and values), `yaml` and `name`.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use hyperfleet_sdk::types;
use serde::Serialize;

use super::api::Failure;

/// `-o`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns: NAME, PHASE, PROVIDER, REGION, NODES, AGE.
    #[default]
    Table,
    /// The table plus LABELS and GENERATION.
    Wide,
    /// The API's JSON (a list prints as the API's list object).
    Json,
    /// The same as YAML.
    Yaml,
    /// `KIND/NAME`, one a line.
    Name,
}

/// A resource the command line prints and waits on: a cluster or a node pool.
pub trait Resource: Serialize {
    /// `cluster` or `nodepool`, as in `-o name` and messages.
    const KIND: &'static str;
    fn name(&self) -> &str;
    fn phase(&self) -> types::Phase;
    fn status_message(&self) -> &str;
    fn generation(&self) -> i64;
    fn id(&self) -> uuid::Uuid;
    fn labels(&self) -> &BTreeMap<String, String>;
    /// Column titles, `-o table`; `-o wide` adds LABELS and GENERATION.
    fn columns() -> &'static [&'static str];
    /// This resource's cells under [`Resource::columns`].
    fn cells(&self, now: DateTime<Utc>) -> Vec<String>;
}

impl Resource for types::Cluster {
    const KIND: &'static str = "cluster";
    fn name(&self) -> &str {
        &self.name
    }
    fn phase(&self) -> types::Phase {
        self.status.phase
    }
    fn status_message(&self) -> &str {
        &self.status.message
    }
    fn generation(&self) -> i64 {
        self.generation
    }
    fn id(&self) -> uuid::Uuid {
        self.id
    }
    fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
    fn columns() -> &'static [&'static str] {
        &["NAME", "PHASE", "PROVIDER", "REGION", "NODES", "AGE"]
    }
    fn cells(&self, now: DateTime<Utc>) -> Vec<String> {
        vec![
            self.name.clone(),
            self.status.phase.to_string(),
            self.spec.provider.to_string(),
            self.spec.region.to_string(),
            self.spec.node_count.to_string(),
            age(self.created_at, now),
        ]
    }
}

impl Resource for types::NodePool {
    const KIND: &'static str = "nodepool";
    fn name(&self) -> &str {
        &self.name
    }
    fn phase(&self) -> types::Phase {
        self.status.phase
    }
    fn status_message(&self) -> &str {
        &self.status.message
    }
    fn generation(&self) -> i64 {
        self.generation
    }
    fn id(&self) -> uuid::Uuid {
        self.id
    }
    fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
    // Node pools have no provider or region of their own (their cluster
    // does); the machine type and the cluster take those places.
    fn columns() -> &'static [&'static str] {
        &["NAME", "CLUSTER", "PHASE", "MACHINE-TYPE", "NODES", "AGE"]
    }
    fn cells(&self, now: DateTime<Utc>) -> Vec<String> {
        vec![
            self.name.clone(),
            self.cluster_id.to_string(),
            self.status.phase.to_string(),
            self.spec.machine_type.to_string(),
            self.spec.node_count.to_string(),
            age(self.created_at, now),
        ]
    }
}

/// Print one resource.
pub fn one<R: Resource>(resource: &R, format: Format) -> Result<(), Failure> {
    match format {
        Format::Table | Format::Wide => emit(&table_of(std::slice::from_ref(resource), format)),
        Format::Json | Format::Yaml => document(resource, format),
        Format::Name => emit(&format!("{}/{}\n", R::KIND, resource.name())),
    }
}

/// Print a list: `whole` is what JSON and YAML show (the API's list object),
/// `items` what the table and `-o name` show.
pub fn many<R: Resource, L: Serialize>(
    whole: &L,
    items: &[R],
    format: Format,
) -> Result<(), Failure> {
    match format {
        Format::Table | Format::Wide if items.is_empty() => {
            // On stderr, so a script reading stdout sees an empty list.
            eprintln!("No {}s found.", R::KIND);
            Ok(())
        }
        Format::Table | Format::Wide => emit(&table_of(items, format)),
        Format::Json | Format::Yaml => document(whole, format),
        Format::Name => emit(
            &items
                .iter()
                .map(|item| format!("{}/{}\n", R::KIND, item.name()))
                .collect::<String>(),
        ),
    }
}

/// JSON (pretty, as people read it; `jq` reads it the same) or YAML.
pub fn document<T: Serialize + ?Sized>(value: &T, format: Format) -> Result<(), Failure> {
    let text = match format {
        Format::Yaml => yaml_serde::to_string(value).map_err(|e| Failure::Other(e.to_string()))?,
        _ => {
            let mut text =
                serde_json::to_string_pretty(value).map_err(|e| Failure::Other(e.to_string()))?;
            text.push('\n');
            text
        }
    };
    emit(&text)
}

fn table_of<R: Resource>(items: &[R], format: Format) -> String {
    let now = Utc::now();
    let mut header: Vec<String> = R::columns().iter().map(|c| c.to_string()).collect();
    let wide = format == Format::Wide;
    if wide {
        header.push("LABELS".into());
        header.push("GENERATION".into());
    }
    let rows = items.iter().map(|item| {
        let mut cells = item.cells(now);
        if wide {
            cells.push(labels(item.labels()));
            cells.push(item.generation().to_string());
        }
        cells
    });
    table(header, rows)
}

/// Columns padded to their widest cell, three spaces apart, as kubectl does.
pub fn table(header: Vec<String>, rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(header).chain(rows).collect();
    let mut widths = Vec::new();
    for row in &rows {
        for (index, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(index) {
                Some(known) if *known < width => *known = width,
                Some(_) => {}
                None => widths.push(width),
            }
        }
    }
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if index + 1 < row.len() {
                let pad = widths[index] - cell.chars().count() + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// `k=v,k2=v2`, or `<none>`.
pub fn labels(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "<none>".into();
    }
    labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// How long ago, in the largest unit that fits, as kubectl's AGE: `42s`,
/// `5m`, `3h`, `12d`.
pub fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - since).num_seconds().max(0);
    match seconds {
        0..120 => format!("{seconds}s"),
        120..7_200 => format!("{}m", seconds / 60),
        7_200..172_800 => format!("{}h", seconds / 3_600),
        _ => format!("{}d", seconds / 86_400),
    }
}

/// Write to stdout; a reader that went away (`| head`) is not an error.
pub fn emit(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_use_the_largest_unit_that_fits() {
        let now = Utc::now();
        let ago = |seconds| age(now - chrono::Duration::seconds(seconds), now);
        assert_eq!(ago(5), "5s");
        assert_eq!(ago(119), "119s");
        assert_eq!(ago(600), "10m");
        assert_eq!(ago(3 * 3600), "3h");
        assert_eq!(ago(5 * 86_400), "5d");
        assert_eq!(age(now + chrono::Duration::seconds(3), now), "0s");
    }

    #[test]
    fn tables_align_their_columns() {
        let text = table(
            vec!["NAME".into(), "PHASE".into()],
            vec![
                vec!["a-long-name".into(), "Ready".into()],
                vec!["b".into(), "Not Ready".into()],
            ],
        );
        assert_eq!(
            text,
            "NAME          PHASE\na-long-name   Ready\nb             Not Ready\n"
        );
    }

    #[test]
    fn labels_print_as_selectors() {
        assert_eq!(labels(&BTreeMap::new()), "<none>");
        let map = BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert_eq!(labels(&map), "a=1,b=2");
    }
}
