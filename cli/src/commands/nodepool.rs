//! `hyperfleet nodepool …`: the cluster verbs for node pools, each inside
//! the cluster named by `--cluster NAME|ID`; `list` and `watch` without
//! `--cluster` cover the node pools of every cluster.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use hyperfleet_sdk::{Client, types};

use super::api::{self, Connection, Failure};
use super::cluster::{DeleteHow, MAX_PAGE_SIZE, Paging, deleted};
use super::output::{self, Format};
use super::poll::{self, WaitArgs, WatchArgs};
use super::statuses;
use hyperfleet_sdk::watch::{WatchObject, WatchOptions};

/// `hyperfleet nodepool`: its connection and output options, and the verb.
#[derive(Args, Debug)]
pub struct NodepoolArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(subcommand)]
    pub command: NodepoolCommand,
}

#[derive(Subcommand, Debug)]
pub enum NodepoolCommand {
    /// Create a node pool in a cluster; it starts Pending.
    Create(CreateArgs),
    /// List the node pools of a cluster, or of every cluster without
    /// --cluster (the first page of 100 unless --all, --page or --size).
    List(ListArgs),
    /// Show one node pool.
    Get(Named),
    /// Every adapter's latest report on a node pool.
    Statuses(Named),
    /// Change a node pool's node count, machine type or labels.
    Update(UpdateArgs),
    /// Delete a node pool: it becomes Terminating until adapters finalize.
    Delete(DeleteArgs),
    /// Wait until a node pool reaches a phase, or is gone.
    Wait(WaitCommand),
    /// Print one line per change to the matching node pools. This polls
    /// the list every --interval: the API has no change feed yet, so
    /// changes between two polls show as one.
    Watch(WatchCommand),
}

/// The cluster a node pool is in.
#[derive(Args, Debug)]
pub struct InCluster {
    /// The cluster's name or id.
    #[arg(long, short = 'c', value_name = "NAME|ID")]
    pub cluster: String,
}

/// A node pool by name or id, in its cluster.
#[derive(Args, Debug)]
pub struct Named {
    /// The node pool's name or id.
    #[arg(value_name = "NAME|ID")]
    pub nodepool: String,
    #[command(flatten)]
    pub cluster: InCluster,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Name, unique within the cluster: 1-63 lowercase letters, digits and `-`.
    pub name: String,
    #[command(flatten)]
    pub cluster: InCluster,
    /// Machine type (`n1-standard-4`, ...).
    #[arg(long)]
    pub machine_type: String,
    /// Number of nodes, 1 to 1000.
    #[arg(long)]
    pub node_count: u32,
    /// A label, KEY=VALUE (repeat for more).
    #[arg(long = "label", short = 'l', value_parser = api::parse_label)]
    pub labels: Vec<(String, String)>,
}

/// The list filters, shared by `list` and `watch`.
#[derive(Args, Debug)]
pub struct Filters {
    /// Only the node pools of this cluster (name or id); without it, every
    /// cluster's.
    #[arg(long, short = 'c', value_name = "NAME|ID")]
    pub cluster: Option<String>,
    /// Label selector: `key=value` pairs and bare `key`s, comma-separated,
    /// all of which must match.
    #[arg(short = 'l', long = "selector", value_name = "k=v[,k]")]
    pub selector: Option<String>,
    /// One phase or several, comma-separated.
    #[arg(long)]
    pub phase: Option<String>,
    /// Exact name, or a glob with `*`.
    #[arg(long, value_name = "GLOB")]
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub filters: Filters,
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The node pool's name or id.
    #[arg(value_name = "NAME|ID")]
    pub nodepool: String,
    #[command(flatten)]
    pub cluster: InCluster,
    /// New number of nodes, 1 to 1000.
    #[arg(long)]
    pub node_count: Option<u32>,
    /// New machine type.
    #[arg(long)]
    pub machine_type: Option<String>,
    /// Set a label, KEY=VALUE (repeat for more).
    #[arg(long = "label", short = 'l', value_parser = api::parse_label)]
    pub labels: Vec<(String, String)>,
    /// Remove a label (repeat for more).
    #[arg(long = "remove-label", value_name = "KEY")]
    pub remove_labels: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The node pool's name or id.
    #[arg(value_name = "NAME|ID")]
    pub nodepool: String,
    #[command(flatten)]
    pub cluster: InCluster,
    #[command(flatten)]
    pub how: DeleteHow,
}

#[derive(Args, Debug)]
pub struct WaitCommand {
    /// The node pool's name or id.
    #[arg(value_name = "NAME|ID")]
    pub nodepool: String,
    #[command(flatten)]
    pub cluster: InCluster,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Args, Debug)]
pub struct WatchCommand {
    #[command(flatten)]
    pub filters: Filters,
    #[command(flatten)]
    pub watch: WatchArgs,
}

pub async fn run(args: NodepoolArgs) -> Result<(), Failure> {
    let client = args.connection.client()?;
    let format = args.output;
    match args.command {
        NodepoolCommand::Create(create) => {
            let body = types::NodePoolCreateRequest::builder()
                .name(create.name)
                .spec(
                    types::NodePoolSpec::builder()
                        .machine_type(create.machine_type)
                        .node_count(create.node_count),
                )
                .labels(create.labels.into_iter().collect::<BTreeMap<_, _>>());
            let nodepool = client
                .nodepool_create()
                .cluster(create.cluster.cluster)
                .body(body)
                .send()
                .await?;
            output::one(&nodepool.into_inner(), format)
        }
        NodepoolCommand::List(list) => {
            let (whole, items) = list_nodepools(&client, &list.filters, &list.paging).await?;
            output::many(&whole, &items, format)
        }
        NodepoolCommand::Get(named) => output::one(
            &view(&client, &named.cluster.cluster, &named.nodepool).await?,
            format,
        ),
        NodepoolCommand::Statuses(named) => {
            let list = client
                .nodepool_status_list()
                .cluster(named.cluster.cluster)
                .nodepool(named.nodepool)
                .send()
                .await?;
            statuses::print(&list.into_inner(), format)
        }
        NodepoolCommand::Update(update) => {
            let mut labels: BTreeMap<String, Option<String>> = update
                .labels
                .into_iter()
                .map(|(key, value)| (key, Some(value)))
                .collect();
            for key in update.remove_labels {
                labels.insert(key, None);
            }
            let mut patch = types::NodePoolPatch::builder().labels(labels);
            if update.node_count.is_some() || update.machine_type.is_some() {
                let mut spec = types::NodePoolSpecPatch::builder();
                if let Some(count) = update.node_count {
                    spec = spec.node_count(Some(std::num::NonZeroU32::new(count).ok_or_else(
                        || Failure::Usage("--node-count must be at least 1".into()),
                    )?));
                }
                if let Some(machine_type) = update.machine_type {
                    let machine_type = types::NodePoolSpecPatchMachineType::try_from(machine_type)
                        .map_err(|e| Failure::Usage(format!("--machine-type: {e}")))?;
                    spec = spec.machine_type(Some(machine_type));
                }
                let spec = types::NodePoolSpecPatch::try_from(spec)
                    .map_err(|e| Failure::Usage(e.to_string()))?;
                patch = patch.spec(Some(spec));
            }
            let nodepool = client
                .nodepool_update()
                .cluster(update.cluster.cluster)
                .nodepool(update.nodepool)
                .body(patch)
                .send()
                .await?;
            output::one(&nodepool.into_inner(), format)
        }
        NodepoolCommand::Delete(delete) => {
            let cluster = delete.cluster.cluster;
            let mut nodepool = client
                .nodepool_delete()
                .cluster(&cluster)
                .nodepool(&delete.nodepool)
                .send()
                .await?
                .into_inner();
            if delete.how.force {
                nodepool = client
                    .nodepool_delete()
                    .cluster(&cluster)
                    .nodepool(&delete.nodepool)
                    .force(true)
                    .send()
                    .await?
                    .into_inner();
            }
            deleted(&nodepool, format)?;
            if delete.how.wait {
                // By ids: the names may be taken again once it is gone.
                let cluster_id = nodepool.cluster_id.to_string();
                let id = nodepool.id.to_string();
                let wait = WaitArgs {
                    until: poll::Until::Deleted,
                    timeout: delete.how.timeout,
                    interval: std::time::Duration::from_millis(500),
                };
                poll::wait(&nodepool.name, &wait, format, || {
                    find(&client, &cluster_id, &id)
                })
                .await?;
            }
            Ok(())
        }
        NodepoolCommand::Wait(wait) => {
            let name = wait.nodepool.clone();
            poll::wait(&name, &wait.wait, format, || {
                find(&client, &wait.cluster.cluster, &wait.nodepool)
            })
            .await
        }
        NodepoolCommand::Watch(watch) => {
            let paging = Paging {
                page: None,
                size: None,
                all: true,
            };
            let (list, items) = list_nodepools(&client, &watch.filters, &paging).await?;
            let filters = &watch.filters;
            // The feed filters by name, not by cluster: its id, once.
            let cluster_id = match &filters.cluster {
                Some(cluster) => Some(
                    client
                        .cluster_view()
                        .cluster(cluster)
                        .send()
                        .await?
                        .into_inner()
                        .id,
                ),
                None => None,
            };
            let feed = poll::Feed {
                since: list.resource_version,
                options: WatchOptions {
                    kinds: Some("NodePool".into()),
                    labels: filters.selector.as_deref().map(api::selector),
                    phase: filters.phase.clone(),
                    name: filters.name.clone(),
                    ..WatchOptions::default()
                },
                keep: Box::new(move |p: &types::NodePool| {
                    cluster_id.is_none_or(|id| p.cluster_id == id)
                }),
                pick: |object| match object {
                    WatchObject::NodePool(pool) => Some(pool),
                    WatchObject::Cluster(_) => None,
                },
            };
            poll::watch(&watch.watch, &client, items, feed).await
        }
    }
}

async fn view(client: &Client, cluster: &str, nodepool: &str) -> Result<types::NodePool, Failure> {
    Ok(client
        .nodepool_view()
        .cluster(cluster)
        .nodepool(nodepool)
        .send()
        .await?
        .into_inner())
}

/// The node pool, or `None` once it (or its cluster) is gone.
async fn find(
    client: &Client,
    cluster: &str,
    nodepool: &str,
) -> Result<Option<types::NodePool>, Failure> {
    api::found(view(client, cluster, nodepool).await)
}

/// One page of node pools (of one cluster, or of all), or with `--all`
/// every page put together as one list object.
async fn list_nodepools(
    client: &Client,
    filters: &Filters,
    paging: &Paging,
) -> Result<(types::NodePoolList, Vec<types::NodePool>), Failure> {
    // The two list operations take the same filters but are distinct
    // builder types, so one macro sets the filters on either.
    macro_rules! filtered {
        ($request:expr, $page:expr, $size:expr) => {{
            let mut request = $request;
            if let Some(selector) = &filters.selector {
                request = request.labels(api::selector(selector));
            }
            if let Some(phase) = &filters.phase {
                request = request.phase(phase.as_str());
            }
            if let Some(name) = &filters.name {
                request = request.name(name.as_str());
            }
            if let Some(page) = $page {
                request = request.page(page);
            }
            if let Some(size) = $size {
                request = request.size(size);
            }
            request.send().await?
        }};
    }
    let fetch = async |page: Option<u32>, size: Option<u32>| {
        let list = match &filters.cluster {
            Some(cluster) => filtered!(client.nodepool_list().cluster(cluster), page, size),
            None => filtered!(client.nodepool_list_all(), page, size),
        };
        Ok::<_, Failure>(list.into_inner())
    };
    if !paging.all {
        let list = fetch(paging.page, paging.size).await?;
        let items = list.items.clone();
        if paging.page.is_none() && (items.len() as u64) < list.total {
            eprintln!(
                "showing {} of {} node pools; --all for every one, or --page",
                items.len(),
                list.total
            );
        }
        return Ok((list, items));
    }
    let mut items = Vec::new();
    // The first page's position: every change up to it is on some page.
    let mut since = None;
    let mut page = 1;
    loop {
        let list = fetch(Some(page), Some(MAX_PAGE_SIZE)).await?;
        let done = list.items.is_empty() || (items.len() + list.items.len()) as u64 >= list.total;
        let since = since.get_or_insert_with(|| list.resource_version.clone());
        items.extend(list.items);
        if done {
            let whole = types::NodePoolList {
                resource_version: since.clone(),
                items: items.clone(),
                kind: list.kind,
                page: 1,
                size: u32::try_from(items.len()).unwrap_or(u32::MAX),
                total: list.total,
            };
            return Ok((whole, items));
        }
        page += 1;
    }
}
