//! The SDK over TLS (feature `tls`): a CA and a server certificate made at
//! test time with rcgen, a TLS-terminating proxy (tokio-rustls) in front of
//! the test server, and a client that trusts the CA through
//! `Client::new_with_ca` (what `--ca-file` / `HYPERFLEET_CA_FILE` build).
//! The same proxy in front of the machine's RabbitMQ gives an `amqps://`
//! broker for `Topology::ca_pem`. A client without the CA must be refused,
//! so the tests prove the certificate is checked, not merely that bytes
//! flow.

use std::net::SocketAddr;
use std::sync::Arc;

use hyperfleet_e2e::calls::create_cluster;
use hyperfleet_e2e::{Backend, TestServer};
use hyperfleet_sdk::Client;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A private CA (its PEM) and a TLS server config for 127.0.0.1 and
/// localhost signed by it.
fn certificates() -> (String, rustls::ServerConfig) {
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().expect("a server key");
    let leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("server params");
    let leaf = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("the server certificate");

    // Both providers are compiled into this test binary (sqlx brings ring),
    // so the server names its own instead of relying on a process default.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("the server certificate and key match");
    (ca.pem(), config)
}

/// Terminate TLS on a fresh port and forward each connection to `backend`.
async fn tls_proxy(config: rustls::ServerConfig, backend: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("its address");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake (the untrusting client) ends here.
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_talks_https_to_a_server_signed_by_a_custom_ca() {
    let Some(server) = TestServer::start(Backend::Sqlite).await else {
        return;
    };
    let backend: SocketAddr = server
        .base_url
        .trim_start_matches("http://")
        .parse()
        .expect("the test server listens on an address");
    let (ca_pem, config) = certificates();
    let proxy = tls_proxy(config, backend).await;

    let url = format!("https://127.0.0.1:{}", proxy.port());
    let client = Client::new_with_ca(&url, None, ca_pem.as_bytes()).expect("a TLS client");
    let created = create_cluster(&client, "over-tls").await;
    let seen = client
        .cluster_view()
        .cluster("over-tls")
        .send()
        .await
        .expect("read back over TLS")
        .into_inner();
    assert_eq!(seen.id, created.id);
    // The name in the certificate, not only the address, is accepted.
    let by_name = Client::new_with_ca(
        &format!("https://localhost:{}", proxy.port()),
        None,
        ca_pem.as_bytes(),
    )
    .expect("a TLS client");
    let listed = by_name
        .cluster_list()
        .send()
        .await
        .expect("list over TLS by host name")
        .into_inner();
    assert_eq!(listed.total, 1);

    // Without the CA the server's certificate is unknown: refused.
    let untrusting = Client::new(&url);
    let error = untrusting
        .cluster_list()
        .send()
        .await
        .expect_err("a client without the CA refuses the certificate");
    assert!(
        error.status().is_none(),
        "refused before any HTTP answer: {error}"
    );

    // Garbage instead of PEM is a build error, not a panic.
    assert!(Client::new_with_ca(&url, None, b"not a certificate").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_is_reached_over_amqps_with_the_custom_ca() {
    use hyperfleet_sdk::amqp::{AmqpPublisher, Topology};

    let Some(url) = hyperfleet_e2e::server::rabbitmq().await else {
        return;
    };
    // The machine's broker speaks plain AMQP; the proxy adds TLS in front.
    let broker: SocketAddr = url
        .rsplit_once('@')
        .and_then(|(_, rest)| rest.split_once('/'))
        .and_then(|(host, _)| host.parse().ok())
        .expect("HYPERFLEET_TEST_AMQP_URL is amqp://USER:PASS@IP:PORT/VHOST");
    let credentials = url
        .trim_start_matches("amqp://")
        .split_once('@')
        .map(|(credentials, _)| credentials.to_string())
        .expect("the URL has credentials");
    let (ca_pem, config) = certificates();
    let proxy = tls_proxy(config, broker).await;
    let amqps = format!("amqps://{credentials}@127.0.0.1:{}/%2f", proxy.port());
    let id = uuid::Uuid::new_v4().simple().to_string();
    let topology = Topology {
        exchange: format!("hyperfleet-test-{id}"),
        ca_pem: Some(ca_pem),
        ..Topology::default()
    };

    let publisher = AmqpPublisher::connect(&amqps, &topology).await;
    assert!(
        publisher.is_ok(),
        "amqps with the CA: {:?}",
        publisher.err()
    );
    let untrusting = Topology {
        ca_pem: None,
        ..topology
    };
    assert!(
        AmqpPublisher::connect(&amqps, &untrusting).await.is_err(),
        "amqps without the CA is refused"
    );
}
