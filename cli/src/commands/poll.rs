//! `wait` (reading again every interval) and `watch` (the first listing,
//! then the API's change feed from the listing's `resource_version`, so no
//! change is missed or merged with another).

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use clap::Args;
use futures_util::StreamExt;
use hyperfleet_sdk::types;
use hyperfleet_sdk::watch::{EventType, WatchObject, WatchOptions};

use super::api::Failure;
use super::output::{self, Format, Resource};
use super::parse_duration;

/// What `wait --for` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// `phase=Ready` (any phase the API has).
    Phase(types::Phase),
    /// `delete`: the resource is gone (404).
    Deleted,
}

impl FromStr for Until {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "delete" {
            return Ok(Until::Deleted);
        }
        let phase = text
            .strip_prefix("phase=")
            .ok_or_else(|| format!("{text:?}: expected phase=PHASE or delete"))?;
        phase.parse().map(Until::Phase).map_err(|_| {
            format!("{phase:?}: the phases are Pending, Not Ready, Ready and Terminating")
        })
    }
}

/// `--for`, `--timeout` and `--interval` of `wait`.
#[derive(Args, Debug)]
pub struct WaitArgs {
    /// `phase=Ready` (or another phase) or `delete` (until the API answers
    /// 404).
    #[arg(long = "for", value_name = "phase=PHASE|delete")]
    pub until: Until,
    /// Give up after this long (`30s`, `5m`, `1h`), exiting 1 with the
    /// last state seen.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// How often to ask the API.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
}

/// `wait`: read with `fetch` (`Ok(None)`: the resource is gone) until the
/// condition holds, printing the resource in `format` when it does.
pub async fn wait<R, F, Fut>(
    what: &str,
    args: &WaitArgs,
    format: Format,
    mut fetch: F,
) -> Result<(), Failure>
where
    R: Resource,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<R>, Failure>>,
{
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut last_seen;
    loop {
        let current = fetch().await?;
        match (&current, args.until) {
            (None, Until::Deleted) => {
                return output::emit(&format!("{}/{what} deleted\n", R::KIND));
            }
            (None, Until::Phase(_)) => {
                return Err(Failure::Other(format!(
                    "{}/{what} does not exist (any more)",
                    R::KIND
                )));
            }
            (Some(resource), Until::Phase(phase)) if resource.phase() == phase => {
                return output::one(resource, format);
            }
            (Some(resource), _) => last_seen = describe(resource),
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let goal = match args.until {
                Until::Phase(phase) => format!("phase {phase}"),
                Until::Deleted => "its deletion".into(),
            };
            return Err(Failure::Other(format!(
                "timed out after {} waiting for {}/{what} to reach {goal}; last seen: {last_seen}",
                humane(args.timeout),
                R::KIND
            )));
        }
        tokio::time::sleep(args.interval.min(deadline - now)).await;
    }
}

/// The state of a resource in a few words, for timeouts and `watch`.
fn describe<R: Resource>(resource: &R) -> String {
    let mut text = format!(
        "phase {}, generation {}",
        resource.phase(),
        resource.generation()
    );
    if !resource.status_message().is_empty() {
        text.push_str(": ");
        text.push_str(resource.status_message());
    }
    text
}

/// `5m`, `30s`, `1500ms`: how a duration was most likely written.
fn humane(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(60_000) && millis > 0 {
        format!("{}m", millis / 60_000)
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// `--timeout` of `watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Stop (exit 0) after this long; without it, watch until interrupted.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// What `watch` asks the change feed for, beside the first listing.
pub struct Feed<'a, R> {
    /// The listing's `resource_version`: the feed starts right after it.
    pub since: String,
    /// The server-side filters (`kinds`, `labels`, `phase`, `name`).
    pub options: WatchOptions,
    /// The filters the feed has no parameter for (a cluster's provider or
    /// region, a node pool's cluster), checked here.
    pub keep: Box<dyn Fn(&R) -> bool + 'a>,
    /// The resource of an event, if it is of this kind.
    pub pick: fn(WatchObject) -> Option<R>,
}

/// `watch`: print the first listing as ADDED lines, then one line per
/// change from the change feed (ADDED, MODIFIED: phase, generation or
/// message, DELETED), every change once and in order.
pub async fn watch<R: Resource>(
    args: &WatchArgs,
    client: &hyperfleet_sdk::Client,
    items: Vec<R>,
    feed: Feed<'_, R>,
) -> Result<(), Failure> {
    let stop = async {
        match args.timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => super::shutdown_signal().await,
        }
    };
    tokio::pin!(stop);
    let mut lines = String::new();
    // What is shown, so a resource that leaves the filters says DELETED.
    let mut shown = std::collections::HashSet::new();
    for item in &items {
        lines.push_str(&line("ADDED", R::KIND, item.name(), &describe(item)));
        shown.insert(item.id());
    }
    output::emit(&lines)?;
    let options = WatchOptions {
        since: Some(feed.since),
        ..feed.options
    };
    let mut events = Box::pin(hyperfleet_sdk::watch::watch(client, options));
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            () = &mut stop => return Ok(()),
        };
        let Some(event) = event else {
            return Ok(());
        };
        let event = event.map_err(|e| Failure::Other(format!("the change feed: {e}")))?;
        let Some(item) = (feed.pick)(event.object) else {
            continue;
        };
        let kept = (feed.keep)(&item);
        let text = match (event.event_type, kept, shown.contains(&item.id())) {
            (EventType::Deleted, _, true) => line("DELETED", R::KIND, item.name(), "gone"),
            (EventType::Deleted, _, false) | (_, false, false) => continue,
            (_, false, true) => line("DELETED", R::KIND, item.name(), "no longer matches"),
            (_, true, true) => line("MODIFIED", R::KIND, item.name(), &describe(&item)),
            (_, true, false) => line("ADDED", R::KIND, item.name(), &describe(&item)),
        };
        if event.event_type == EventType::Deleted || !kept {
            shown.remove(&item.id());
        } else {
            shown.insert(item.id());
        }
        output::emit(&text)?;
    }
}

fn line(event: &str, kind: &str, name: &str, state: &str) -> String {
    format!(
        "{}  {event:<8}  {kind}/{name}  {state}\n",
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_reads_phases_and_delete() {
        assert_eq!("phase=Ready".parse(), Ok(Until::Phase(types::Phase::Ready)));
        assert_eq!(
            "phase=Not Ready".parse(),
            Ok(Until::Phase(types::Phase::NotReady))
        );
        assert_eq!("delete".parse(), Ok(Until::Deleted));
        assert!("phase=Done".parse::<Until>().is_err());
        assert!("Ready".parse::<Until>().is_err());
    }

    #[test]
    fn durations_print_as_written() {
        assert_eq!(humane(Duration::from_secs(300)), "5m");
        assert_eq!(humane(Duration::from_secs(2)), "2s");
        assert_eq!(humane(Duration::from_millis(1500)), "1500ms");
    }
}
