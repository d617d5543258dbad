//! What the adapter kit does with what it receives, beyond the happy path:
//! a message that is not a reconcile event (undecodable, or naming a kind
//! of resource nobody knows) lands in the dead-letter queue exactly once and
//! is counted, while the adapter goes on with real events; and a repeat of
//! an event it completed (same id) is acknowledged without running the
//! adapter again.

use std::time::Duration;

use futures_util::StreamExt;
use hyperfleet_control_loop::reference_adapters::{SimulatedAdapter, Simulation, kinds_of};
use hyperfleet_e2e::calls::create_cluster;
use hyperfleet_e2e::server::rabbitmq;
use hyperfleet_e2e::wait::{wait_for, wait_for_phase};
use hyperfleet_e2e::{Backend, TestServer};
use hyperfleet_sdk::adapter::{AdapterRuntime, Publisher};
use hyperfleet_sdk::amqp::{AmqpPublisher, Topology};
use hyperfleet_sdk::bus::InProcessBus;
use hyperfleet_sdk::events::{CloudEvent, Reason, ReconcileData, ResourceKind, event_id};
use hyperfleet_sdk::{Client, types};
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};

const WITHIN: Duration = Duration::from_secs(20);

fn simulation() -> Simulation {
    Simulation {
        work: Duration::from_millis(20),
        failure_rate: 0.0,
        fail_first: 0,
    }
}

/// A server whose clusters need validation only, so one adapter makes
/// them Ready.
async fn validation_only() -> Option<TestServer> {
    let only = vec!["validation".to_string()];
    TestServer::start_with(Backend::Sqlite, only.clone(), only).await
}

fn event_for(cluster: &types::Cluster) -> CloudEvent {
    let data = ReconcileData {
        id: cluster.id,
        kind: ResourceKind::Cluster,
        href: cluster.href.clone(),
        generation: cluster.generation,
        cluster_id: cluster.id,
    };
    let id = event_id(&data, Reason::Reconcile, cluster.updated_at, 0);
    CloudEvent::reconcile("/test", data).with_id(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_once_and_counted() {
    let Some(url) = rabbitmq().await else { return };
    let Some(server) = validation_only().await else {
        return;
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let topology = Topology {
        exchange: format!("hyperfleet-test-{id}"),
        queue_prefix: format!("hyperfleet-test-{id}"),
        queue_expires: Some(Duration::from_secs(60)),
        ..Topology::default()
    };
    let runtime = AdapterRuntime::new(
        Client::new(&server.base_url),
        SimulatedAdapter::new("validation", kinds_of("validation"), simulation()),
    )
    .retry_delay(Duration::from_millis(200));
    let metrics = runtime.metrics();
    let inbox = runtime
        .subscribe_rabbitmq(&url, &topology)
        .await
        .expect("the adapter subscribes");
    let adapter = tokio::spawn(async move {
        let _ = runtime.run(inbox).await;
    });

    // Two messages no adapter can act on, straight onto the exchange.
    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .expect("the test connects");
    let channel = connection.create_channel().await.expect("a channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let cluster = create_cluster(&server.client, "fine").await;
    let mut unknown_kind = serde_json::to_value(event_for(&cluster)).expect("an event is JSON");
    unknown_kind["data"]["kind"] = serde_json::json!("Widget");
    let poison = [
        b"this is not JSON".to_vec(),
        serde_json::to_vec(&unknown_kind).expect("JSON"),
    ];
    for body in &poison {
        channel
            .basic_publish(
                topology.exchange.as_str().into(),
                "cluster.reconcile".into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default(),
            )
            .await
            .expect("published")
            .await
            .expect("confirmed");
    }
    // And a real event after them: the adapter is not stuck behind them.
    let publisher = AmqpPublisher::connect(&url, &topology)
        .await
        .expect("the publisher connects");
    publisher
        .publish(&event_for(&cluster))
        .await
        .expect("the event is published");
    wait_for_phase(&server.client, "fine", types::Phase::Ready, 1, WITHIN).await;
    wait_for("both poison messages to be counted", WITHIN, || async {
        (metrics.dead_lettered() == 2).then_some(())
    })
    .await;

    // The dead-letter queue holds each of them once, from the adapter's
    // queue; nothing else arrives there.
    let consumer_channel = connection.create_channel().await.expect("a channel");
    let mut dead = consumer_channel
        .basic_consume(
            topology.dead_letter_queue().as_str().into(),
            "test".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("the dead-letter queue exists");
    let mut bodies = Vec::new();
    loop {
        let wait = if bodies.len() < poison.len() {
            WITHIN
        } else {
            Duration::from_secs(2)
        };
        let Ok(Some(delivery)) = tokio::time::timeout(wait, dead.next()).await else {
            break;
        };
        let delivery = delivery.expect("a dead letter");
        let from = delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("x-first-death-queue").cloned());
        match from {
            Some(AMQPValue::LongString(queue)) => {
                assert_eq!(queue.to_string(), topology.queue_name("validation"));
            }
            other => panic!("x-first-death-queue is the adapter's queue, not {other:?}"),
        }
        bodies.push(delivery.data);
    }
    assert_eq!(bodies, poison, "each poison message exactly once, in order");
    assert_eq!(metrics.dead_lettered(), 2);
    adapter.abort();
    let _ = connection.close(200, "done".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_of_a_completed_event_does_not_run_the_adapter_again() {
    let Some(server) = validation_only().await else {
        return;
    };
    let bus = InProcessBus::new();
    let inbox = bus.subscribe("validation", kinds_of("validation"));
    let runtime = AdapterRuntime::new(
        Client::new(&server.base_url),
        SimulatedAdapter::new("validation", kinds_of("validation"), simulation()),
    );
    let metrics = runtime.metrics();
    let adapter = tokio::spawn(async move {
        let _ = runtime.run(inbox).await;
    });

    let cluster = create_cluster(&server.client, "once").await;
    let event = event_for(&cluster);
    bus.publish(&event).await.expect("published");
    wait_for_phase(&server.client, "once", types::Phase::Ready, 1, WITHIN).await;
    wait_for("the event to complete", WITHIN, || async {
        (metrics.completed() == 1).then_some(())
    })
    .await;

    // The same event again, as a second sentinel would send it.
    bus.publish(&event).await.expect("published");
    wait_for("the repeat to be dropped", WITHIN, || async {
        (metrics.duplicates() == 1).then_some(())
    })
    .await;
    assert_eq!(metrics.completed(), 1, "the adapter did not run again");

    // Another event about the same resource (another id) runs it.
    let mut other = event.clone();
    other.id = uuid::Uuid::new_v4().to_string();
    bus.publish(&other).await.expect("published");
    wait_for("a new event to complete", WITHIN, || async {
        (metrics.completed() == 2).then_some(())
    })
    .await;
    assert_eq!(metrics.duplicates(), 1);
    adapter.abort();
}
