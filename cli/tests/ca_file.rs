//! `--ca-file` / `HYPERFLEET_CA_FILE` as a user runs them: the real binary
//! (built with the SDK's `tls`) against `hyperfleet serve` behind a
//! TLS-terminating proxy whose certificate is signed by a CA made at test
//! time. With the CA file the commands work; without it they are refused.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const BIN: &str = env!("CARGO_BIN_EXE_hyperfleet");

/// The server's process, stopped on drop.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private CA (its PEM) and a server config for 127.0.0.1 signed by it.
fn certificates() -> (String, rustls::ServerConfig) {
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("a server key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("server params")
        .signed_by(&leaf_key, &issuer)
        .expect("the server certificate");
    // Both providers are compiled into this binary (sqlx brings ring), so
    // the proxy names its own instead of relying on a process default.
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

/// Terminate TLS on a fresh port, forwarding to `backend`.
async fn tls_proxy(config: rustls::ServerConfig, backend: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("its address");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
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
async fn cluster_commands_trust_the_ca_file() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let database = format!("sqlite://{}", dir.path().join("hyperfleet.db").display());
    let _serve = Serve(
        Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &database])
            .env_remove("HYPERFLEET_AUTH_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hyperfleet serve starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "hyperfleet serve did not listen");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ca_pem, config) = certificates();
    let proxy = tls_proxy(config, SocketAddr::from(([127, 0, 0, 1], port))).await;
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).expect("the CA file is written");
    let server = format!("https://127.0.0.1:{}", proxy.port());

    let run = |args: Vec<String>, ca: Option<std::path::PathBuf>| {
        let mut command = Command::new(BIN);
        command
            .args(&args)
            .env("HYPERFLEET_URL", &server)
            .env_remove("HYPERFLEET_TOKEN")
            .env_remove("HYPERFLEET_CA_FILE");
        if let Some(ca) = ca {
            command.env("HYPERFLEET_CA_FILE", ca);
        }
        tokio::task::spawn_blocking(move || command.output().expect("hyperfleet runs"))
    };
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let created = run(
        args(&[
            "cluster",
            "create",
            "tls",
            "--provider",
            "gcp",
            "--region",
            "us-east1",
            "--node-count",
            "3",
        ]),
        Some(ca_file.clone()),
    )
    .await
    .expect("the command finished");
    assert!(
        created.status.success(),
        "create over TLS with HYPERFLEET_CA_FILE: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let listed = run(
        args(&[
            "cluster",
            "list",
            "--ca-file",
            &ca_file.display().to_string(),
        ]),
        None,
    )
    .await
    .expect("the command finished");
    assert!(
        listed.status.success(),
        "list over TLS with --ca-file: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("tls"));

    let refused = run(args(&["cluster", "list"]), None)
        .await
        .expect("the command finished");
    assert!(
        !refused.status.success(),
        "without the CA the certificate is refused"
    );
}
