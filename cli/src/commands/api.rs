//! The client side of `hyperfleet cluster|nodepool`: where the API is
//! (`--server`, `--token`), the SDK client for it, and how the SDK's errors
//! become the one-line errors and exit codes of the command line.

use std::fmt;
use std::process::ExitCode;

use clap::Args;
use hyperfleet_sdk::{Client, types};

/// Where the API is and who is asking; global, so they may follow the verb
/// (`hyperfleet cluster list --server URL`).
#[derive(Args, Clone, Debug)]
pub struct Connection {
    /// Base URL of the API (without the /api/hyperfleet/v1 base path).
    #[arg(
        long,
        global = true,
        env = "HYPERFLEET_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    pub server: String,
    /// Bearer token, for a server that runs with `--auth`.
    #[arg(long, global = true, env = "HYPERFLEET_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM file of a private CA to trust, besides the platform's roots, for
    /// an https:// server.
    #[arg(long, global = true, env = "HYPERFLEET_CA_FILE")]
    pub ca_file: Option<std::path::PathBuf>,
}

impl Connection {
    /// The SDK client for this server, with the token when there is one.
    pub fn client(&self) -> Result<Client, Failure> {
        if let Some(path) = &self.ca_file {
            let ca = std::fs::read(path).map_err(|e| {
                Failure::Usage(format!("--ca-file: cannot read {}: {e}", path.display()))
            })?;
            return Client::new_with_ca(&self.server, self.token.as_deref(), &ca)
                .map_err(|e| Failure::Usage(format!("--ca-file/--token: {e}")));
        }
        match &self.token {
            Some(token) => Client::new_with_token(&self.server, token)
                .map_err(|e| Failure::Usage(format!("--token: {e}"))),
            None => Ok(Client::new(&self.server)),
        }
    }
}

/// Why a command failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The API answered with its error shape: exit 1.
    Api(types::Error),
    /// The command line asked for something malformed that clap could not
    /// see (a value the SDK refuses to send): exit 2, as clap's own.
    Usage(String),
    /// Anything else (the server unreachable, a timeout, output): exit 1.
    Other(String),
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Usage(_) => ExitCode::from(2),
            Failure::Api(_) | Failure::Other(_) => ExitCode::from(1),
        }
    }

    /// The API's error code, when the API answered.
    pub fn code(&self) -> Option<types::ErrorCode> {
        match self {
            Failure::Api(error) => Some(error.error),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    /// What follows `error: ` on the one line the command prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Api(error) => {
                write!(f, "{}: {}", error.error, error.message)?;
                // Which fields were wrong is the useful part of a 400; kept
                // on the same line, so the error stays one line.
                for (index, detail) in error.details.iter().enumerate() {
                    let separator = if index == 0 { ": " } else { "; " };
                    write!(f, "{separator}{}: {}", detail.field, detail.message)?;
                }
                write!(f, " (request {})", error.request_id)?;
            }
            Failure::Usage(message) | Failure::Other(message) => f.write_str(message)?,
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

impl From<hyperfleet_sdk::Error<types::Error>> for Failure {
    fn from(error: hyperfleet_sdk::Error<types::Error>) -> Self {
        use hyperfleet_sdk::Error as Sdk;
        match error {
            Sdk::ErrorResponse(response) => Failure::Api(response.into_inner()),
            // The SDK checks values against the contract's patterns before it
            // sends them; a value it refuses came from the command line.
            Sdk::InvalidRequest(message) => Failure::Usage(message),
            Sdk::CommunicationError(error) => {
                Failure::Other(format!("cannot reach the API: {}", chain(&error)))
            }
            Sdk::UnexpectedResponse(response) => Failure::Other(format!(
                "unexpected answer {} from {}",
                response.status(),
                response.url()
            )),
            other => Failure::Other(other.to_string()),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::Other(error.to_string())
    }
}

/// An error and its sources on one line: reqwest's own message ("error
/// sending request") says nothing of the refused connection underneath.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Ok(None)` for the API's "no such resource" answers (including one that
/// has been deleted), so waiting for a delete and reading a resource share
/// one call.
pub fn found<T>(result: Result<T, Failure>) -> Result<Option<T>, Failure> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(failure)
            if matches!(
                failure.code(),
                Some(types::ErrorCode::ClusterNotFound | types::ErrorCode::NodePoolNotFound)
            ) =>
        {
            Ok(None)
        }
        Err(failure) => Err(failure),
    }
}

/// `k=v` (or the API's own `k:v`) pairs given with `--label`.
pub fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once(['=', ':']) {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{text:?}: expected KEY=VALUE")),
    }
}

/// A label selector as kubectl writes it (`env=prod,tier`) in the API's
/// syntax (`env:prod,tier`).
pub fn selector(text: &str) -> String {
    text.split(',')
        .map(|part| part.replacen('=', ":", 1))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_take_either_separator() {
        assert_eq!(parse_label("env=prod"), Ok(("env".into(), "prod".into())));
        assert_eq!(parse_label("env:prod"), Ok(("env".into(), "prod".into())));
        assert_eq!(parse_label("env="), Ok(("env".into(), String::new())));
        assert!(parse_label("env").is_err());
        assert!(parse_label("=prod").is_err());
    }

    #[test]
    fn selectors_become_the_api_syntax() {
        assert_eq!(selector("env=prod,tier"), "env:prod,tier");
        assert_eq!(selector("env:prod"), "env:prod");
    }

    #[test]
    fn api_errors_read_as_one_line() {
        let failure = Failure::Api(types::Error {
            details: Vec::new(),
            error: types::ErrorCode::ClusterNotFound,
            message: "Cluster x not found".into(),
            request_id: "abc".into(),
        });
        assert_eq!(
            failure.to_string(),
            "ClusterNotFound: Cluster x not found (request abc)"
        );
        assert_eq!(failure.exit_code(), ExitCode::from(1));
        let invalid = Failure::Api(types::Error {
            details: vec![types::FieldError {
                field: "spec.nodeCount".into(),
                message: "must be between 1 and 1000".into(),
            }],
            error: types::ErrorCode::ValidationFailed,
            message: "invalid request: 1 field is invalid".into(),
            request_id: "abc".into(),
        });
        assert_eq!(
            invalid.to_string(),
            "ValidationFailed: invalid request: 1 field is invalid: \
             spec.nodeCount: must be between 1 and 1000 (request abc)"
        );
        assert_eq!(Failure::Usage("x".into()).exit_code(), ExitCode::from(2));
    }
}
