//! `dirk dial-stdio [ADDRESS]`: relays standard input and output to a BuildKit daemon, so that
//! `docker-container://`, `kube-pod://` and any other pipe can reach it (including Docker's
//! embedded BuildKit, through its `/grpc` endpoint).

use clap::Args;

use dirk::buildkit::address::Runner;
use dirk::buildkit::transport;

/// Arguments of `dirk dial-stdio`.
#[derive(Debug, Args)]
pub struct DialArgs {
    /// The daemon (any runner address; default: the one dirk would use, see `dirk engine`).
    #[arg(value_name = "ADDRESS")]
    address: Option<String>,
}

pub async fn run(args: DialArgs) -> anyhow::Result<i32> {
    let env = |k: &str| std::env::var(k).ok();
    let runner = match &args.address {
        Some(a) => Runner::from_argument(a, env),
        None => Runner::from_env(env),
    };
    let runner = match runner {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dirk dial-stdio: {e}");
            return Ok(1);
        }
    };
    match transport::dial_stdio(&runner.address, tokio::io::stdin(), tokio::io::stdout()).await {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("dirk dial-stdio: {e}");
            Ok(1)
        }
    }
}
