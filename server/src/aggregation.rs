//! The aggregation configuration (docs/statuses.md#the-aggregation-config):
//! which adapters each resource kind requires, and in what order they run
//! (`after`). Read from the YAML file of `--aggregation-config`, or made
//! from the `--cluster-adapters`/`--nodepool-adapters` lists (no `after`).
//!
//! A configuration is checked once, when it is read: an `after` naming an
//! adapter the kind does not require, an adapter listed twice, or a cycle
//! would leave some adapter waiting forever, so they stop the process
//! instead. Everything past [`AggregationConfig::parse`] may assume the
//! graph is a DAG over known names.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The adapters of one resource kind, in the configured order, and what
/// each comes after. Only built by the checks, so always a DAG.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AdapterGraph {
    names: Vec<String>,
    after: BTreeMap<String, Vec<String>>,
}

impl AdapterGraph {
    /// The required adapters, in the configured order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// What `adapter` comes after (empty for an unknown adapter).
    pub fn after(&self, adapter: &str) -> &[String] {
        self.after.get(adapter).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The adapters that come after `adapter`: during deletion they must
    /// finalize before it does.
    pub fn before(&self, adapter: &str) -> Vec<String> {
        self.names
            .iter()
            .filter(|name| self.after(name).iter().any(|a| a == adapter))
            .cloned()
            .collect()
    }

    /// A graph without ordering: every adapter may run at once.
    pub fn unordered(names: &[String]) -> Result<Self, String> {
        Self::check(
            names
                .iter()
                .map(|name| AdapterRule {
                    name: name.clone(),
                    after: Vec::new(),
                })
                .collect(),
        )
    }

    /// Check one kind's rules: no duplicate, no unknown `after`, no cycle.
    fn check(rules: Vec<AdapterRule>) -> Result<Self, String> {
        let mut graph = AdapterGraph::default();
        for rule in &rules {
            if graph.names.contains(&rule.name) {
                return Err(format!("adapter {:?} is listed twice", rule.name));
            }
            graph.names.push(rule.name.clone());
        }
        for rule in rules {
            let mut after = Vec::new();
            for dependency in rule.after {
                if !graph.names.contains(&dependency) {
                    return Err(format!(
                        "adapter {:?} comes after {dependency:?}, which is not a listed adapter",
                        rule.name
                    ));
                }
                if dependency == rule.name {
                    return Err(format!("adapter {:?} comes after itself", rule.name));
                }
                if !after.contains(&dependency) {
                    after.push(dependency);
                }
            }
            graph.after.insert(rule.name, after);
        }
        if let Some(cycle) = graph.cycle() {
            return Err(format!("the adapters form a cycle: {}", cycle.join(" -> ")));
        }
        Ok(graph)
    }

    /// A cycle of `after` edges, as the names along it (first = last), if
    /// there is one: a depth-first search that reports the first back edge.
    fn cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        fn visit<'a>(
            graph: &'a AdapterGraph,
            name: &'a str,
            marks: &mut BTreeMap<&'a str, Mark>,
            path: &mut Vec<&'a str>,
        ) -> Option<Vec<String>> {
            marks.insert(name, Mark::Open);
            path.push(name);
            for next in graph.after(name) {
                match marks.get(next.as_str()).copied().unwrap_or(Mark::New) {
                    Mark::Open => {
                        let start = path.iter().position(|n| *n == next.as_str())?;
                        let mut cycle: Vec<String> =
                            path[start..].iter().map(|n| n.to_string()).collect();
                        cycle.push(next.clone());
                        return Some(cycle);
                    }
                    Mark::New => {
                        if let Some(cycle) = visit(graph, next, marks, path) {
                            return Some(cycle);
                        }
                    }
                    Mark::Done => {}
                }
            }
            path.pop();
            marks.insert(name, Mark::Done);
            None
        }
        let mut marks = BTreeMap::new();
        for name in &self.names {
            if marks.get(name.as_str()).copied().unwrap_or(Mark::New) == Mark::New {
                let mut path = Vec::new();
                if let Some(cycle) = visit(self, name, &mut marks, &mut path) {
                    return Some(cycle);
                }
            }
        }
        None
    }
}

/// Which adapters clusters and node pools require, and their order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregationConfig {
    pub cluster: AdapterGraph,
    pub nodepool: AdapterGraph,
}

/// A configuration that cannot be used, with what is wrong in words.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct ConfigError {
    /// The file (or flag) the configuration came from.
    pub source_name: String,
    pub message: String,
}

/// The file's shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    cluster: Option<KindRules>,
    nodepool: Option<KindRules>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KindRules {
    #[serde(default)]
    adapters: Vec<AdapterRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdapterRule {
    name: String,
    #[serde(default)]
    after: Vec<String>,
}

/// The default configuration, the seed's order, as the file would say it.
pub const DEFAULT_CONFIG: &str = "\
cluster:
  adapters:
    - name: validation
    - name: dns
      after: [validation]
    - name: infrastructure
      after: [validation, dns]
nodepool:
  adapters:
    - name: validation
    - name: infrastructure
      after: [validation]
";

impl Default for AggregationConfig {
    fn default() -> Self {
        // The constant is checked by a unit test; should it ever fail to
        // parse, requiring nothing is the only safe fallback.
        AggregationConfig::parse(DEFAULT_CONFIG).unwrap_or(AggregationConfig {
            cluster: AdapterGraph::default(),
            nodepool: AdapterGraph::default(),
        })
    }
}

impl AggregationConfig {
    /// Parse and check the YAML text of a configuration file. A kind the
    /// file leaves out keeps its default graph.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
        let default: File = yaml_serde::from_str(DEFAULT_CONFIG).map_err(|e| e.to_string())?;
        let graph = |name: &str, rules: Option<KindRules>| {
            AdapterGraph::check(rules.map(|r| r.adapters).unwrap_or_default())
                .map_err(|e| format!("{name}: {e}"))
        };
        Ok(AggregationConfig {
            cluster: graph("cluster", file.cluster.or(default.cluster))?,
            nodepool: graph("nodepool", file.nodepool.or(default.nodepool))?,
        })
    }

    /// Read and check the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let error = |message: String| ConfigError {
            source_name: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        Self::parse(&text).map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_seed_order() {
        let config = AggregationConfig::parse(DEFAULT_CONFIG).expect("the default parses");
        assert_eq!(config, AggregationConfig::default());
        assert_eq!(
            config.cluster.names(),
            ["validation", "dns", "infrastructure"]
        );
        assert_eq!(
            config.cluster.after("infrastructure"),
            ["validation", "dns"]
        );
        assert_eq!(
            config.cluster.before("validation"),
            ["dns", "infrastructure"]
        );
        assert_eq!(config.nodepool.names(), ["validation", "infrastructure"]);
        assert_eq!(config.nodepool.after("infrastructure"), ["validation"]);
    }

    #[test]
    fn a_kind_left_out_keeps_its_default() {
        let config =
            AggregationConfig::parse("cluster:\n  adapters:\n    - name: dns\n").expect("parses");
        assert_eq!(config.cluster.names(), ["dns"]);
        assert_eq!(config.nodepool, AggregationConfig::default().nodepool);
    }

    #[test]
    fn mistakes_are_named() {
        let problem = |text: &str| AggregationConfig::parse(text).expect_err(text);
        assert!(
            problem("cluster:\n  adapters:\n    - name: a\n      after: [b]\n")
                .contains("comes after \"b\", which is not a listed adapter")
        );
        assert!(
            problem("cluster:\n  adapters:\n    - name: a\n    - name: a\n")
                .contains("adapter \"a\" is listed twice")
        );
        assert_eq!(
            problem(
                "nodepool:\n  adapters:\n    - name: a\n      after: [c]\n    - name: b\n      \
                 after: [a]\n    - name: c\n      after: [b]\n"
            ),
            "nodepool: the adapters form a cycle: a -> c -> b -> a"
        );
        assert!(
            problem("cluster:\n  adapters:\n    - name: a\n      after: [a]\n")
                .contains("comes after itself")
        );
        assert!(problem("clusters: {}\n").contains("unknown field"));
    }

    #[test]
    fn lists_have_no_order() {
        let graph = AdapterGraph::unordered(&["a".into(), "b".into()]).expect("no duplicates");
        assert!(graph.after("b").is_empty());
        assert!(AdapterGraph::unordered(&["a".into(), "a".into()]).is_err());
    }
}
