//! Access control through the SDK: the seed's J6, every endpoint
//! for every kind of caller, list totals per team, the `team` label rules,
//! 401 challenges, a server without `--auth`, and `dev` with it.
//!
//! The servers here load a real auth file made of `hyperfleet token new`
//! lines (minted once per test binary), so the file format, the hashing and
//! the minting are exercised by every test.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyperfleet_e2e::calls::{
    api_error, create_cluster_with, create_pool, delete_cluster, expect_cluster_deleted,
    expect_error, expect_pool_deleted, view_cluster,
};
use hyperfleet_e2e::fixtures::{RUNNING, cluster_request_at, nodepool_request, report};
use hyperfleet_e2e::server::server_config;
use hyperfleet_e2e::wait::wait_for_phase;
use hyperfleet_e2e::{Backend, TestServer, on_every_backend};
use hyperfleet_sdk::{Client, Error as SdkError, ResponseValue, types};
use hyperfleet_server::auth::{self, Principal, Role, Tokens};

on_every_backend!(
    start = crate::start;
    j6_another_team_gets_403,
    every_endpoint_for_every_caller,
    list_totals_count_only_visible_clusters,
    the_team_label_defaults_and_stays_within_the_callers_teams,
    tombstones_speak_only_to_who_could_see_the_cluster,
    missing_or_invalid_tokens_are_challenged,
);

/// The message the seed demands for another team's cluster.
const FORBIDDEN: &str = "User does not have permission to access this cluster";

/// The callers of these tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Who {
    /// No token at all.
    Nobody,
    /// alice: a member of alpha.
    Alpha,
    /// bob: a member of beta.
    Beta,
    /// carol: a member of alpha and beta.
    Both,
    /// dns: the adapter role.
    Adapter,
    /// root: an admin in no team.
    Admin,
}

/// The minted tokens, and the auth file that accepts them.
struct Fixture {
    tokens: BTreeMap<Who, String>,
    file: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let principal = |subject: &str, teams: &[&str], role| Principal {
            subject: subject.into(),
            teams: teams.iter().map(|t| t.to_string()).collect(),
            role,
        };
        let mut tokens = BTreeMap::new();
        let mut file = String::from("# minted by tests/tests/auth.rs\n");
        for (who, principal) in [
            (Who::Alpha, principal("alice", &["alpha"], Role::Member)),
            (Who::Beta, principal("bob", &["beta"], Role::Member)),
            (
                Who::Both,
                principal("carol", &["alpha", "beta"], Role::Member),
            ),
            (Who::Adapter, principal("dns", &[], Role::Adapter)),
            (Who::Admin, principal("root", &[], Role::Admin)),
        ] {
            let minted = auth::mint(&principal).expect("a token is minted");
            file.push_str(&minted.line);
            file.push('\n');
            tokens.insert(who, minted.token);
        }
        Fixture { tokens, file }
    })
}

/// The accepted tokens, as `serve --auth FILE` loads them.
fn auth_file_tokens() -> Tokens {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("auth.yaml");
    std::fs::write(&path, &fixture().file).expect("the auth file is written");
    Tokens::load(&path).expect("the auth file loads")
}

async fn start(backend: Backend) -> Option<TestServer> {
    TestServer::start_with_auth(backend, auth_file_tokens()).await
}

/// A client for `who`.
fn client(server: &TestServer, who: Who) -> Client {
    match fixture().tokens.get(&who) {
        Some(token) => server.client_with_token(token),
        None => server.client.clone(),
    }
}

/// A cluster request with this name and, if given, this `team` label.
fn cluster(name: &str, team: Option<&str>) -> types::builder::ClusterCreateRequest {
    let labels: BTreeMap<String, String> = team
        .map(|team| ("team".to_string(), team.to_string()))
        .into_iter()
        .collect();
    cluster_request_at(name, "gcp", "us-east1").labels(labels)
}

/// Create [`cluster`]`(name, team)` as the caller of `client`.
async fn create(client: &Client, name: &str, team: Option<&str>) -> types::Cluster {
    create_cluster_with(client, cluster(name, team)).await
}

/// A patch of the `team` label (`None` removes it).
fn move_to(team: Option<&str>) -> types::builder::ClusterPatch {
    types::ClusterPatch::builder().labels(BTreeMap::from([(
        "team".to_string(),
        team.map(String::from),
    )]))
}

/// The status of an SDK call, whether it succeeded or not.
fn status<T>(result: Result<ResponseValue<T>, SdkError<types::Error>>) -> u16 {
    match result {
        Ok(response) => response.status().as_u16(),
        Err(SdkError::ErrorResponse(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP answer, got {other}"),
    }
}

async fn j6_another_team_gets_403(server: TestServer) {
    let alice = client(&server, Who::Alpha);
    let bob = client(&server, Who::Beta);
    let id = create(&alice, "alpha-cluster", None).await.id.to_string();

    for segment in [id.as_str(), "alpha-cluster"] {
        let (status, error) = api_error(bob.cluster_view().cluster(segment).send().await);
        assert_eq!(status, 403, "{segment}");
        assert_eq!(error.error, types::ErrorCode::PermissionDenied);
        assert_eq!(error.message, FORBIDDEN);
        assert!(!error.request_id.is_empty());
        assert!(error.details.is_empty());
    }

    // The same answer for everything in and about the cluster.
    create_pool(&alice, &id, "pool").await;
    let answers = [
        api_error(bob.cluster_status_list().cluster(&id).send().await),
        api_error(
            bob.cluster_update()
                .cluster(&id)
                .body(move_to(Some("beta")))
                .send()
                .await,
        ),
        api_error(bob.cluster_delete().cluster(&id).send().await),
        api_error(bob.nodepool_list().cluster(&id).send().await),
        api_error(
            bob.nodepool_view()
                .cluster(&id)
                .nodepool("pool")
                .send()
                .await,
        ),
        // Whether or not the node pool exists.
        api_error(
            bob.nodepool_view()
                .cluster(&id)
                .nodepool("no-such-pool")
                .send()
                .await,
        ),
    ];
    for (status, error) in answers {
        assert_eq!(
            (status, error.error, error.message.as_str()),
            (403, types::ErrorCode::PermissionDenied, FORBIDDEN)
        );
    }

    let still = view_cluster(&alice, &id).await;
    assert_eq!(still.generation, 1, "nothing bob tried changed it");
    assert_eq!(still.status.phase, types::Phase::Pending);
}

/// What an endpoint call gets: the caller's client, and an admin client to
/// make what the call consumes.
struct Ctx {
    client: Client,
    admin: Client,
}

/// A name no other call of this test binary uses.
fn fresh(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The status of one call, as seen by one caller.
type Call = for<'a> fn(&'a Ctx) -> Pin<Box<dyn Future<Output = u16> + Send + 'a>>;

/// One endpoint, and the status each caller gets, in the order of
/// [`CALLERS`].
struct Row {
    endpoint: &'static str,
    call: Call,
    expect: [u16; 5],
}

/// The columns of the table: no token, another team, the owning team, an
/// adapter, an admin.
const CALLERS: [Who; 5] = [Who::Nobody, Who::Beta, Who::Alpha, Who::Adapter, Who::Admin];

/// The cluster (team alpha) and node pool every row works on.
const CLUSTER: &str = "alpha-one";
const POOL: &str = "pool";

fn rows() -> Vec<Row> {
    vec![
        Row {
            endpoint: "POST /clusters",
            call: |c| {
                Box::pin(async move {
                    let name = fresh("made");
                    status(
                        c.client
                            .cluster_create()
                            .body(cluster(&name, Some("alpha")))
                            .send()
                            .await,
                    )
                })
            },
            expect: [401, 403, 201, 403, 201],
        },
        Row {
            endpoint: "GET /clusters",
            call: |c| Box::pin(async move { status(c.client.cluster_list().send().await) }),
            expect: [401, 200, 200, 200, 200],
        },
        Row {
            endpoint: "GET /clusters/{cluster}",
            call: |c| {
                Box::pin(
                    async move { status(c.client.cluster_view().cluster(CLUSTER).send().await) },
                )
            },
            expect: [401, 403, 200, 200, 200],
        },
        Row {
            endpoint: "PATCH /clusters/{cluster}",
            call: |c| {
                Box::pin(async move {
                    let touch = fresh("touch");
                    let patch = types::ClusterPatch::builder()
                        .labels(BTreeMap::from([("touched".to_string(), Some(touch))]));
                    status(
                        c.client
                            .cluster_update()
                            .cluster(CLUSTER)
                            .body(patch)
                            .send()
                            .await,
                    )
                })
            },
            expect: [401, 403, 200, 403, 200],
        },
        Row {
            endpoint: "DELETE /clusters/{cluster}",
            call: |c| {
                Box::pin(async move {
                    let name = fresh("doomed");
                    create(&c.admin, &name, Some("alpha")).await;
                    status(c.client.cluster_delete().cluster(&name).send().await)
                })
            },
            expect: [401, 403, 202, 403, 202],
        },
        Row {
            endpoint: "PUT /clusters/{cluster}/statuses",
            call: |c| {
                Box::pin(async move {
                    status(
                        c.client
                            .cluster_status_report()
                            .cluster(CLUSTER)
                            .body(report("dns", 1, RUNNING))
                            .send()
                            .await,
                    )
                })
            },
            expect: [401, 403, 200, 200, 200],
        },
        Row {
            endpoint: "GET /clusters/{cluster}/statuses",
            call: |c| {
                Box::pin(async move {
                    status(c.client.cluster_status_list().cluster(CLUSTER).send().await)
                })
            },
            expect: [401, 403, 200, 200, 200],
        },
        Row {
            endpoint: "POST /clusters/{cluster}/nodepools",
            call: |c| {
                Box::pin(async move {
                    let name = fresh("pool");
                    status(
                        c.client
                            .nodepool_create()
                            .cluster(CLUSTER)
                            .body(nodepool_request(&name))
                            .send()
                            .await,
                    )
                })
            },
            expect: [401, 403, 201, 403, 201],
        },
        Row {
            endpoint: "GET /clusters/{cluster}/nodepools",
            call: |c| {
                Box::pin(
                    async move { status(c.client.nodepool_list().cluster(CLUSTER).send().await) },
                )
            },
            expect: [401, 403, 200, 200, 200],
        },
        Row {
            endpoint: "GET /nodepools",
            call: |c| Box::pin(async move { status(c.client.nodepool_list_all().send().await) }),
            expect: [401, 200, 200, 200, 200],
        },
        Row {
            endpoint: "GET /clusters/{cluster}/nodepools/{nodepool}",
            call: |c| {
                Box::pin(async move {
                    status(
                        c.client
                            .nodepool_view()
                            .cluster(CLUSTER)
                            .nodepool(POOL)
                            .send()
                            .await,
                    )
                })
            },
            expect: [401, 403, 200, 200, 200],
        },
        Row {
            endpoint: "PATCH /clusters/{cluster}/nodepools/{nodepool}",
            call: |c| {
                Box::pin(async move {
                    let touch = fresh("touch");
                    let patch = types::NodePoolPatch::builder()
                        .labels(BTreeMap::from([("touched".to_string(), Some(touch))]));
                    status(
                        c.client
                            .nodepool_update()
                            .cluster(CLUSTER)
                            .nodepool(POOL)
                            .body(patch)
                            .send()
                            .await,
                    )
                })
            },
            expect: [401, 403, 200, 403, 200],
        },
        Row {
            endpoint: "DELETE /clusters/{cluster}/nodepools/{nodepool}",
            call: |c| {
                Box::pin(async move {
                    let name = fresh("doomed");
                    create_pool(&c.admin, CLUSTER, &name).await;
                    status(
                        c.client
                            .nodepool_delete()
                            .cluster(CLUSTER)
                            .nodepool(&name)
                            .send()
                            .await,
                    )
                })
            },
            expect: [401, 403, 202, 403, 202],
        },
        Row {
            endpoint: "PUT /clusters/{cluster}/nodepools/{nodepool}/statuses",
            call: |c| {
                Box::pin(async move {
                    status(
                        c.client
                            .nodepool_status_report()
                            .cluster(CLUSTER)
                            .nodepool(POOL)
                            .body(report("validation", 1, RUNNING))
                            .send()
                            .await,
                    )
                })
            },
            expect: [401, 403, 200, 200, 200],
        },
        Row {
            endpoint: "GET /clusters/{cluster}/nodepools/{nodepool}/statuses",
            call: |c| {
                Box::pin(async move {
                    status(
                        c.client
                            .nodepool_status_list()
                            .cluster(CLUSTER)
                            .nodepool(POOL)
                            .send()
                            .await,
                    )
                })
            },
            expect: [401, 403, 200, 200, 200],
        },
        Row {
            // Every role may watch; a member sees only its teams' changes.
            endpoint: "GET /events",
            call: |c| {
                Box::pin(
                    async move { status(c.client.event_watch().timeout_seconds(1).send().await) },
                )
            },
            expect: [401, 200, 200, 200, 200],
        },
        Row {
            endpoint: "GET /healthz",
            call: |c| Box::pin(async move { status(c.client.health_live().send().await) }),
            expect: [200; 5],
        },
        Row {
            endpoint: "GET /readyz",
            call: |c| Box::pin(async move { status(c.client.health_ready().send().await) }),
            expect: [200; 5],
        },
    ]
}

async fn every_endpoint_for_every_caller(server: TestServer) {
    let admin = client(&server, Who::Admin);
    create(&admin, CLUSTER, Some("alpha")).await;
    create_pool(&admin, CLUSTER, POOL).await;

    let mut wrong = Vec::new();
    for row in rows() {
        for (who, expected) in CALLERS.into_iter().zip(row.expect) {
            let ctx = Ctx {
                client: client(&server, who),
                admin: admin.clone(),
            };
            let got = (row.call)(&ctx).await;
            if got != expected {
                wrong.push(format!(
                    "{} as {who:?}: {got}, expected {expected}",
                    row.endpoint
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

async fn list_totals_count_only_visible_clusters(server: TestServer) {
    let alpha = client(&server, Who::Alpha);
    let beta = client(&server, Who::Beta);
    // Two for alpha, one for beta, each with a node pool; teams defaulted.
    for (owner, name) in [(&alpha, "a-one"), (&alpha, "a-two"), (&beta, "b-one")] {
        create(owner, name, None).await;
        create_pool(owner, name, "pool").await;
    }

    for (who, names) in [
        (Who::Alpha, vec!["a-one", "a-two"]),
        (Who::Beta, vec!["b-one"]),
        (Who::Both, vec!["a-one", "a-two", "b-one"]),
        (Who::Adapter, vec!["a-one", "a-two", "b-one"]),
        (Who::Admin, vec!["a-one", "a-two", "b-one"]),
    ] {
        let client = client(&server, who);
        let list = client
            .cluster_list()
            .send()
            .await
            .expect("listed")
            .into_inner();
        let listed: Vec<&str> = list.items.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(listed, names, "{who:?}");
        assert_eq!(list.total, names.len() as u64, "{who:?}");

        // `total` counts every visible match, not the page.
        let page = client
            .cluster_list()
            .size(std::num::NonZeroU32::new(1).expect("1"))
            .send()
            .await
            .expect("one page")
            .into_inner();
        assert_eq!(
            (page.items.len(), page.total),
            (1, names.len() as u64),
            "{who:?}"
        );

        let pools = client
            .nodepool_list_all()
            .send()
            .await
            .expect("node pools listed")
            .into_inner();
        assert_eq!(pools.total, names.len() as u64, "{who:?}");
        assert_eq!(pools.items.len(), names.len(), "{who:?}");
    }

    // Filters narrow within what the caller sees, never beyond it.
    let foreign = alpha
        .cluster_list()
        .labels("team:beta")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!((foreign.items.len(), foreign.total), (0, 0));
    let b_one = view_cluster(&client(&server, Who::Admin), "b-one").await;
    let pools = alpha
        .nodepool_list_all()
        .cluster_id(b_one.id)
        .send()
        .await
        .expect("a search, not a path: no 403")
        .into_inner();
    assert_eq!((pools.items.len(), pools.total), (0, 0));
}

async fn the_team_label_defaults_and_stays_within_the_callers_teams(server: TestServer) {
    let alpha = client(&server, Who::Alpha);
    let beta = client(&server, Who::Beta);
    let both = client(&server, Who::Both);
    let admin = client(&server, Who::Admin);
    let team_of = |cluster: &types::Cluster| cluster.labels.get("team").cloned();

    // Absent: the creator's one team.
    let defaulted = create(&alpha, "defaulted", None).await;
    assert_eq!(team_of(&defaulted).as_deref(), Some("alpha"));

    // A member of several teams must choose, and may choose any of them.
    let error = expect_error(
        both.cluster_create()
            .body(cluster("undecided", None))
            .send()
            .await,
        400,
        types::ErrorCode::ValidationFailed,
    );
    assert_eq!(error.details[0].field, "labels.team");
    assert!(
        error.details[0].message.contains("alpha, beta"),
        "{error:?}"
    );
    let chosen = create(&both, "chosen", Some("beta")).await;
    assert_eq!(team_of(&chosen).as_deref(), Some("beta"));

    // Never a team the member is not in.
    let error = expect_error(
        alpha
            .cluster_create()
            .body(cluster("planted", Some("beta")))
            .send()
            .await,
        403,
        types::ErrorCode::PermissionDenied,
    );
    assert!(error.message.contains("beta"), "{error:?}");

    // A team label that is no valid label value (a Cyrillic look-alike of
    // alpha) is the same 400 on create and on PATCH:
    // the value rules come before the team rules on both.
    let lookalike = "\u{430}lpha";
    let error = expect_error(
        alpha
            .cluster_create()
            .body(cluster("lookalike", Some(lookalike)))
            .send()
            .await,
        400,
        types::ErrorCode::ValidationFailed,
    );
    assert_eq!(error.details[0].field, "labels.team", "{error:?}");
    let error = expect_error(
        alpha
            .cluster_update()
            .cluster("defaulted")
            .body(move_to(Some(lookalike)))
            .send()
            .await,
        400,
        types::ErrorCode::ValidationFailed,
    );
    assert_eq!(error.details[0].field, "labels.team", "{error:?}");

    // Moving a cluster to a foreign team, or out of every team, is refused
    // and changes nothing.
    for patch in [move_to(Some("beta")), move_to(None)] {
        let update = alpha.cluster_update().cluster("defaulted").body(patch);
        expect_error(update.send().await, 403, types::ErrorCode::PermissionDenied);
    }
    let unchanged = view_cluster(&alpha, "defaulted").await;
    assert_eq!(unchanged.generation, 1);
    assert_eq!(team_of(&unchanged).as_deref(), Some("alpha"));

    // A member of both teams may hand it over; then it is beta's alone.
    let moved = both
        .cluster_update()
        .cluster("defaulted")
        .body(move_to(Some("beta")))
        .send()
        .await
        .expect("moved between carol's teams")
        .into_inner();
    assert_eq!(team_of(&moved).as_deref(), Some("beta"));
    assert_eq!(moved.generation, 2);
    let (status, _) = api_error(alpha.cluster_view().cluster("defaulted").send().await);
    assert_eq!(status, 403);
    view_cluster(&beta, "defaulted").await;

    // An admin in no team may create without a team (only admins and
    // adapters see such a cluster) and move anything anywhere.
    let orphan = create(&admin, "orphan", None).await;
    assert_eq!(team_of(&orphan), None);
    for member in [&alpha, &beta, &both] {
        let (status, _) = api_error(member.cluster_view().cluster("orphan").send().await);
        assert_eq!(status, 403);
    }
    // Adapters read everything.
    view_cluster(&client(&server, Who::Adapter), "orphan").await;
    let adopted = admin
        .cluster_update()
        .cluster("orphan")
        .body(move_to(Some("alpha")))
        .send()
        .await
        .expect("admins move anything")
        .into_inner();
    assert_eq!(team_of(&adopted).as_deref(), Some("alpha"));
    view_cluster(&alpha, "orphan").await;
}

async fn missing_or_invalid_tokens_are_challenged(server: TestServer) {
    let challenge = |response: &ResponseValue<types::Error>| {
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };

    let Err(SdkError::ErrorResponse(missing)) = server.client.cluster_list().send().await else {
        panic!("a request without a token must fail");
    };
    assert_eq!(missing.status().as_u16(), 401);
    assert_eq!(
        challenge(&missing).as_deref(),
        Some(r#"Bearer realm="hyperfleet""#)
    );
    let request_id = missing
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = missing.into_inner();
    assert_eq!(body.error, types::ErrorCode::Unauthenticated);
    assert_eq!(Some(body.request_id), request_id);

    let Err(SdkError::ErrorResponse(invalid)) = server
        .client_with_token("hf_not-a-real-token")
        .cluster_view()
        .cluster("anything")
        .send()
        .await
    else {
        panic!("an unknown token must fail");
    };
    assert_eq!(invalid.status().as_u16(), 401);
    assert_eq!(
        challenge(&invalid).as_deref(),
        Some(r#"Bearer realm="hyperfleet", error="invalid_token""#)
    );
    assert_eq!(
        invalid.into_inner().error,
        types::ErrorCode::Unauthenticated
    );

    // Authentication comes first: no 400 or 404 tells a stranger anything.
    let http = server.http();
    let url = server.url("/api/hyperfleet/v1/clusters");
    for request in [
        http.post(&url).body("{not json"),
        http.get(server.url("/api/hyperfleet/v1/clusters/no-such-cluster")),
        http.get(&url)
            .header("Authorization", "Basic YWxpY2U6c2VjcmV0"),
        http.get(&url).header("Authorization", "Bearer"),
    ] {
        let response = request.send().await.expect("an answer");
        assert_eq!(response.status().as_u16(), 401);
        assert!(response.headers().contains_key("www-authenticate"));
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        assert_eq!(body["error"], "Unauthenticated");
    }

    // Two Authorization headers are refused even when one holds a valid
    // token: proxies disagree on which one counts.
    let valid = format!("Bearer {}", fixture().tokens[&Who::Alpha]);
    for pair in [
        [valid.as_str(), "junk"],
        ["junk", valid.as_str()],
        [valid.as_str(), valid.as_str()],
    ] {
        let response = http
            .get(&url)
            .header("Authorization", pair[0])
            .header("Authorization", pair[1])
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 401, "{pair:?}");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some(r#"Bearer realm="hyperfleet", error="invalid_request""#)
        );
        let (_, body) = hyperfleet_e2e::http::error_of(response).await;
        assert_eq!(body.error, types::ErrorCode::Unauthenticated);
        assert!(body.message.contains("exactly one"), "{}", body.message);
    }

    // The probes, the contract and its reference page stay open.
    for path in ["/healthz", "/readyz", "/openapi.yaml", "/docs"] {
        let response = http.get(server.url(path)).send().await.expect("an answer");
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }

    // /metrics counts every team's clusters and traffic: a token of role
    // admin, or 401 / 403 in the error shape.
    let metrics = server.url("/metrics");
    let response = http.get(&metrics).send().await.expect("an answer");
    assert_eq!(response.status().as_u16(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let (_, body) = hyperfleet_e2e::http::error_of(response).await;
    assert_eq!(body.error, types::ErrorCode::Unauthenticated);
    for who in [Who::Alpha, Who::Both, Who::Adapter] {
        let response = http
            .get(&metrics)
            .bearer_auth(&fixture().tokens[&who])
            .send()
            .await
            .expect("an answer");
        let (status, body) = hyperfleet_e2e::http::error_of(response).await;
        assert_eq!(
            (status, body.error),
            (403, types::ErrorCode::PermissionDenied),
            "{who:?}"
        );
    }
    let response = http
        .get(&metrics)
        .bearer_auth(&fixture().tokens[&Who::Admin])
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.expect("a body");
    assert!(text.contains("hyperfleet_resources{"), "{text}");
}

/// Remove a cluster at once: delete, then force (no adapters run here).
async fn remove_cluster(client: &Client, name: &str) {
    delete_cluster(client, name).await;
    let forced = client
        .cluster_delete()
        .cluster(name)
        .force(true)
        .send()
        .await;
    assert!(forced.is_ok(), "{name} is removed: {forced:?}");
}

/// The "has been successfully deleted" answer tells that an id existed, so
/// it goes only to callers who could have seen the cluster; another team
/// gets the plain not-found.
async fn tombstones_speak_only_to_who_could_see_the_cluster(server: TestServer) {
    let alpha = client(&server, Who::Alpha);
    let beta = client(&server, Who::Beta);
    let gone = create(&alpha, "gone", None).await;
    remove_cluster(&alpha, "gone").await;
    for who in [Who::Alpha, Who::Both, Who::Admin, Who::Adapter] {
        expect_cluster_deleted(&client(&server, who), gone.id).await;
    }
    let id = gone.id.to_string();
    for client in [&beta, &client(&server, Who::Beta)] {
        let error = expect_error(
            client.cluster_view().cluster(&id).send().await,
            404,
            types::ErrorCode::ClusterNotFound,
        );
        assert_eq!(error.message, format!("Cluster {id} not found"));
        // Every operation on the id says the same.
        let error = expect_error(
            client.cluster_status_list().cluster(&id).send().await,
            404,
            types::ErrorCode::ClusterNotFound,
        );
        assert_eq!(error.message, format!("Cluster {id} not found"));
    }

    // A node pool's tombstone speaks only within its own cluster.
    create(&alpha, "kept", None).await;
    let pool = create_pool(&alpha, "kept", "pool").await;
    alpha
        .nodepool_delete()
        .cluster("kept")
        .nodepool("pool")
        .send()
        .await
        .expect("the node pool's deletion starts");
    alpha
        .nodepool_delete()
        .cluster("kept")
        .nodepool("pool")
        .force(true)
        .send()
        .await
        .expect("the node pool is removed");
    expect_pool_deleted(&alpha, "kept", pool.id).await;
    create(&beta, "beta-own", None).await;
    let error = expect_error(
        beta.nodepool_view()
            .cluster("beta-own")
            .nodepool(pool.id.to_string())
            .send()
            .await,
        404,
        types::ErrorCode::NodePoolNotFound,
    );
    assert!(!error.message.contains("deleted"), "{}", error.message);
}

/// A server without `--auth`: the API as before, open to anyone.
mod open {
    use super::*;

    hyperfleet_e2e::on_every_backend!(without_auth_the_api_is_open);

    async fn without_auth_the_api_is_open(server: TestServer) {
        let anyone = &server.client;
        let created = create(anyone, "open", None).await;
        assert!(created.labels.is_empty(), "no team is made up");
        // A token is neither needed nor checked.
        let stranger = server.client_with_token("hf_whatever");
        for client in [anyone, &stranger] {
            let list = client
                .cluster_list()
                .send()
                .await
                .expect("listed")
                .into_inner();
            assert_eq!(list.total, 1);
        }
        stranger
            .cluster_update()
            .cluster("open")
            .body(move_to(Some("anything")))
            .send()
            .await
            .expect("anyone may change anything");
        // And delete it.
        delete_cluster(&stranger, "open").await;
    }
}

/// `dev --auth FILE`: its own sentinel and adapters get a token of their
/// own, so a member's cluster still goes Ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_with_auth_takes_a_cluster_to_ready() {
    use hyperfleet::dev::DevConfig;
    use hyperfleet_control_loop::reference_adapters::Simulation;
    use hyperfleet_control_loop::sentinel::SentinelConfig;

    let dir = tempfile::tempdir().expect("a temp dir");
    let database_url = format!("sqlite://{}", dir.path().join("dev.db").display());
    let config = DevConfig {
        server: hyperfleet_server::ServerConfig {
            auth: Some(auth_file_tokens()),
            ..server_config(database_url)
        },
        simulation: Simulation {
            work: Duration::from_millis(100),
            failure_rate: 0.0,
            fail_first: 0,
        },
        sentinel: SentinelConfig {
            poll_interval: Duration::from_millis(200),
            ..SentinelConfig::default()
        },
        retry_delay: Duration::from_millis(500),
    };
    let dev = hyperfleet::dev::start(config).await.expect("dev starts");
    let base_url = format!("http://{}", dev.server.local_addr());
    let token = &fixture().tokens[&Who::Alpha];
    let alice = Client::new_with_token(&base_url, token).expect("a client");

    create(&alice, "dev-auth", None).await;
    let ten_seconds = Duration::from_secs(10);
    wait_for_phase(&alice, "dev-auth", types::Phase::Ready, 1, ten_seconds).await;
    // Without a token nothing is served, though the loop runs.
    let (status, _) = api_error(Client::new(&base_url).cluster_list().send().await);
    assert_eq!(status, 401);
    dev.stop().await.expect("dev stops");
}
