//! `hyperfleet cluster …`: create, list, get, statuses, update, delete,
//! wait and watch clusters through the SDK. A cluster is named by its name
//! or its id wherever one is asked for; the API resolves either.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use hyperfleet_sdk::{Client, types};

use super::api::{self, Connection, Failure};
use super::output::{self, Format};
use super::poll::{self, WaitArgs, WatchArgs};
use super::statuses;
use hyperfleet_sdk::watch::{WatchObject, WatchOptions};

/// `hyperfleet cluster`: its connection and output options, and the verb.
#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Create a cluster; it starts Pending until adapters report.
    Create(CreateArgs),
    /// List clusters (the first page of 100 unless --all, --page or --size).
    List(ListArgs),
    /// Show one cluster.
    Get(Named),
    /// Every adapter's latest report on a cluster.
    Statuses(Named),
    /// Change a cluster's node count or labels (a merge patch: what is not
    /// given keeps its value).
    Update(UpdateArgs),
    /// Delete a cluster and its node pools: they become Terminating until
    /// adapters finalize.
    Delete(DeleteArgs),
    /// Wait until a cluster reaches a phase, or is gone.
    Wait(WaitCommand),
    /// Print one line per change to the clusters that match the filters.
    /// This polls the list every --interval: the API has no change feed
    /// yet, so changes between two polls show as one.
    Watch(WatchCommand),
}

/// A cluster by name or id.
#[derive(Args, Debug)]
pub struct Named {
    /// The cluster's name or id.
    #[arg(value_name = "NAME|ID")]
    pub cluster: String,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Unique name: 1-63 lowercase letters, digits and `-`.
    pub name: String,
    /// Cloud provider (`gcp`, `aws`, ...).
    #[arg(long)]
    pub provider: String,
    /// Region within the provider.
    #[arg(long)]
    pub region: String,
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
    /// Label selector: `key=value` pairs and bare `key`s (has the label),
    /// comma-separated, all of which must match.
    #[arg(short = 'l', long = "selector", value_name = "k=v[,k]")]
    pub selector: Option<String>,
    /// One phase or several, comma-separated (`Ready`, `Pending,Not Ready`).
    #[arg(long)]
    pub phase: Option<String>,
    #[arg(long)]
    pub provider: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    /// Exact name, or a glob with `*` (`prod-*`).
    #[arg(long, value_name = "GLOB")]
    pub name: Option<String>,
}

/// Which page: one asked for, or all of them.
#[derive(Args, Debug)]
pub struct Paging {
    /// Page number, from 1.
    #[arg(long, conflicts_with = "all")]
    pub page: Option<u32>,
    /// Page size, 1 to 1000.
    #[arg(long, conflicts_with = "all")]
    pub size: Option<u32>,
    /// Every page (the JSON and YAML show them as one list).
    #[arg(long)]
    pub all: bool,
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
    /// The cluster's name or id.
    #[arg(value_name = "NAME|ID")]
    pub cluster: String,
    /// New number of nodes, 1 to 1000.
    #[arg(long)]
    pub node_count: Option<u32>,
    /// Set a label, KEY=VALUE (repeat for more).
    #[arg(long = "label", short = 'l', value_parser = api::parse_label)]
    pub labels: Vec<(String, String)>,
    /// Remove a label (repeat for more).
    #[arg(long = "remove-label", value_name = "KEY")]
    pub remove_labels: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The cluster's name or id.
    #[arg(value_name = "NAME|ID")]
    pub cluster: String,
    #[command(flatten)]
    pub how: DeleteHow,
}

/// `--force` and `--wait` of `delete`, shared with node pools.
#[derive(Args, Debug)]
pub struct DeleteHow {
    /// Remove it now, without waiting for adapters to clean up: asks for
    /// the delete, then removes the Terminating resource (`?force=true`).
    #[arg(long)]
    pub force: bool,
    /// Wait until it is gone.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this long, exiting 1.
    #[arg(long, default_value = "5m", value_parser = super::parse_duration)]
    pub timeout: std::time::Duration,
}

#[derive(Args, Debug)]
pub struct WaitCommand {
    /// The cluster's name or id.
    #[arg(value_name = "NAME|ID")]
    pub cluster: String,
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

pub async fn run(args: ClusterArgs) -> Result<(), Failure> {
    let client = args.connection.client()?;
    let format = args.output;
    match args.command {
        ClusterCommand::Create(create) => {
            let body = types::ClusterCreateRequest::builder()
                .name(create.name)
                .spec(
                    types::ClusterSpec::builder()
                        .provider(create.provider)
                        .region(create.region)
                        .node_count(create.node_count),
                )
                .labels(create.labels.into_iter().collect::<BTreeMap<_, _>>());
            let cluster = client.cluster_create().body(body).send().await?;
            output::one(&cluster.into_inner(), format)
        }
        ClusterCommand::List(list) => {
            let (whole, items) = list_clusters(&client, &list.filters, &list.paging).await?;
            output::many(&whole, &items, format)
        }
        ClusterCommand::Get(named) => output::one(&view(&client, &named.cluster).await?, format),
        ClusterCommand::Statuses(named) => {
            let list = client
                .cluster_status_list()
                .cluster(named.cluster)
                .send()
                .await?;
            statuses::print(&list.into_inner(), format)
        }
        ClusterCommand::Update(update) => {
            let mut labels: BTreeMap<String, Option<String>> = update
                .labels
                .into_iter()
                .map(|(key, value)| (key, Some(value)))
                .collect();
            for key in update.remove_labels {
                labels.insert(key, None);
            }
            let mut patch = types::ClusterPatch::builder().labels(labels);
            if let Some(count) = update.node_count {
                let count = std::num::NonZeroU32::new(count)
                    .ok_or_else(|| Failure::Usage("--node-count must be at least 1".into()))?;
                let spec = types::ClusterSpecPatch::builder().node_count(Some(count));
                let spec = types::ClusterSpecPatch::try_from(spec)
                    .map_err(|e| Failure::Usage(e.to_string()))?;
                patch = patch.spec(Some(spec));
            }
            let cluster = client
                .cluster_update()
                .cluster(update.cluster)
                .body(patch)
                .send()
                .await?;
            output::one(&cluster.into_inner(), format)
        }
        ClusterCommand::Delete(delete) => {
            let mut cluster = client
                .cluster_delete()
                .cluster(&delete.cluster)
                .send()
                .await?
                .into_inner();
            if delete.how.force {
                cluster = client
                    .cluster_delete()
                    .cluster(&delete.cluster)
                    .force(true)
                    .send()
                    .await?
                    .into_inner();
            }
            deleted(&cluster, format)?;
            if delete.how.wait {
                // By id: the name may be taken again once it is gone.
                let id = cluster.id.to_string();
                let wait = WaitArgs {
                    until: poll::Until::Deleted,
                    timeout: delete.how.timeout,
                    interval: std::time::Duration::from_millis(500),
                };
                poll::wait(&cluster.name, &wait, format, || find(&client, &id)).await?;
            }
            Ok(())
        }
        ClusterCommand::Wait(wait) => {
            let name = wait.cluster.clone();
            poll::wait(&name, &wait.wait, format, || find(&client, &wait.cluster)).await
        }
        ClusterCommand::Watch(watch) => {
            let paging = Paging {
                page: None,
                size: None,
                all: true,
            };
            let (list, items) = list_clusters(&client, &watch.filters, &paging).await?;
            let filters = &watch.filters;
            let feed = poll::Feed {
                since: list.resource_version,
                options: WatchOptions {
                    kinds: Some("Cluster".into()),
                    labels: filters.selector.as_deref().map(api::selector),
                    phase: filters.phase.clone(),
                    name: filters.name.clone(),
                    ..WatchOptions::default()
                },
                keep: Box::new(|c: &types::Cluster| {
                    filters
                        .provider
                        .as_ref()
                        .is_none_or(|p| *c.spec.provider == **p)
                        && filters
                            .region
                            .as_ref()
                            .is_none_or(|r| *c.spec.region == **r)
                }),
                pick: |object| match object {
                    WatchObject::Cluster(cluster) => Some(cluster),
                    WatchObject::NodePool(_) => None,
                },
            };
            poll::watch(&watch.watch, &client, items, feed).await
        }
    }
}

/// What `delete` prints before any waiting: the 202's resource in JSON or
/// YAML, else a line.
pub fn deleted<R: output::Resource>(resource: &R, format: Format) -> Result<(), Failure> {
    match format {
        Format::Json | Format::Yaml => output::document(resource, format),
        Format::Name => output::one(resource, format),
        Format::Table | Format::Wide => output::emit(&format!(
            "{}/{} deletion requested (phase {})\n",
            R::KIND,
            resource.name(),
            resource.phase()
        )),
    }
}

async fn view(client: &Client, cluster: &str) -> Result<types::Cluster, Failure> {
    Ok(client
        .cluster_view()
        .cluster(cluster)
        .send()
        .await?
        .into_inner())
}

/// The cluster, or `None` once it is gone.
async fn find(client: &Client, cluster: &str) -> Result<Option<types::Cluster>, Failure> {
    api::found(view(client, cluster).await)
}

/// The list object to print whole and its items. With `--all`, every page
/// at the largest size, put together as one list object (page 1, its size
/// the number of items).
async fn list_clusters(
    client: &Client,
    filters: &Filters,
    paging: &Paging,
) -> Result<(types::ClusterList, Vec<types::Cluster>), Failure> {
    let request = |page: Option<u32>, size: Option<u32>| {
        let mut request = client.cluster_list();
        if let Some(selector) = &filters.selector {
            request = request.labels(api::selector(selector));
        }
        if let Some(phase) = &filters.phase {
            request = request.phase(phase.as_str());
        }
        if let Some(provider) = &filters.provider {
            request = request.provider(provider.as_str());
        }
        if let Some(region) = &filters.region {
            request = request.region(region.as_str());
        }
        if let Some(name) = &filters.name {
            request = request.name(name.as_str());
        }
        if let Some(page) = page {
            request = request.page(page);
        }
        if let Some(size) = size {
            request = request.size(size);
        }
        request
    };
    if !paging.all {
        let list = request(paging.page, paging.size).send().await?.into_inner();
        let items = list.items.clone();
        if paging.page.is_none() && (items.len() as u64) < list.total {
            eprintln!(
                "showing {} of {} clusters; --all for every one, or --page",
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
        let list = request(Some(page), Some(MAX_PAGE_SIZE))
            .send()
            .await?
            .into_inner();
        let done = list.items.is_empty() || (items.len() + list.items.len()) as u64 >= list.total;
        let since = since.get_or_insert_with(|| list.resource_version.clone());
        items.extend(list.items);
        if done {
            let whole = types::ClusterList {
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

/// The API's largest page, for `--all`.
pub const MAX_PAGE_SIZE: u32 = 1000;
