//! A product catalog service on memo: axum over SQLite (or PostgreSQL), with an optional Redis
//! L2, Prometheus metrics, and a load generator that shows what caching does for it.
//!
//! ```text
//! cargo run -p memo-catalog --example catalog                      # serve on 127.0.0.1:3000
//! cargo run -p memo-catalog --example catalog -- --load-test       # caching off, then on; table + plot
//! DATABASE_URL=postgres://localhost/catalog REDIS_URL=redis://127.0.0.1/ cargo run -p memo-catalog --example catalog
//! MEMO_DISABLE=1 cargo run -p memo-catalog --example catalog       # every call reaches the database
//! ```
//!
//! The SQLite file is created and seeded with 100,000 products on first run (see `--help`).

mod api;
mod db;
mod load_test;
mod plot;
mod zipf;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use metrics_exporter_prometheus::PrometheusBuilder;

use crate::db::Db;

const HELP: &str = "\
catalog: a product catalog service cached with memo

usage: catalog [options]            serve HTTP
       catalog --load-test [options] run the service twice (caching off, then on) under a Zipf load

options:
  --addr ADDR          where to listen (default 127.0.0.1:3000; port 0 picks a free one)
  --db PATH            SQLite file (default: memo-catalog/catalog.sqlite3 in the temp directory);
                       DATABASE_URL (sqlite:// or postgres://) takes precedence
  --products N         products to seed an empty database with (default 100000)
  --namespace NAME     Redis key namespace when REDIS_URL is set (default catalog)
  --requests N         load test: requests with caching on (default 200000), a fixed seeded
                       sequence, so that the result does not depend on the machine's speed
  --baseline-requests N
                       load test: requests with caching off (default a tenth of --requests:
                       every one reaches the database, so fewer measure its cost as well)
  --concurrency N      load test: concurrent connections (default 32)
  --zipf S             load test: Zipf exponent of key popularity (default 1.0)
  --plot PATH          load test: where to write the SVG plot (default target/catalog-load-test.svg)
  --check-reduction P  load test: exit 1 unless caching cut database queries per request by P%

environment: DATABASE_URL, REDIS_URL, MEMO_DISABLE=1 (caching off), RUST_LOG (log filter)
";

#[derive(Debug, Clone)]
pub struct Options {
    pub addr: SocketAddr,
    pub db_path: PathBuf,
    pub products: i64,
    pub namespace: String,
    pub load_test: bool,
    pub requests: u64,
    pub baseline_requests: Option<u64>,
    pub concurrency: usize,
    pub zipf: f64,
    pub plot: PathBuf,
    pub check_reduction: Option<f64>,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Self>, String> {
        let mut o = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            db_path: std::env::temp_dir().join("memo-catalog").join("catalog.sqlite3"),
            products: 100_000,
            namespace: "catalog".into(),
            load_test: false,
            requests: 200_000,
            baseline_requests: None,
            concurrency: 32,
            zipf: 1.0,
            plot: PathBuf::from("target/catalog-load-test.svg"),
            check_reduction: None,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value (see --help)"));
            match arg.as_str() {
                "-h" | "--help" => return Ok(None),
                "--load-test" => o.load_test = true,
                "--addr" => o.addr = parse(&arg, &value()?)?,
                "--db" => o.db_path = PathBuf::from(value()?),
                "--products" => o.products = parse::<i64>(&arg, &value()?)?.max(1),
                "--namespace" => o.namespace = value()?,
                "--requests" => o.requests = parse::<u64>(&arg, &value()?)?.max(1),
                "--baseline-requests" => o.baseline_requests = Some(parse::<u64>(&arg, &value()?)?.max(1)),
                "--concurrency" => o.concurrency = parse::<usize>(&arg, &value()?)?.max(1),
                "--zipf" => o.zipf = parse(&arg, &value()?)?,
                "--plot" => o.plot = PathBuf::from(value()?),
                "--check-reduction" => o.check_reduction = Some(parse(&arg, &value()?)?),
                other => return Err(format!("unknown option `{other}` (see --help)")),
            }
        }
        Ok(Some(o))
    }

    /// The database URL: `DATABASE_URL`, else the SQLite file.
    pub fn database_url(&self) -> Result<String, String> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Ok(url.trim().to_owned()),
            _ => Db::sqlite_url(&self.db_path),
        }
    }
}

fn parse<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("{name}: cannot read `{value}`"))
}

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => return fail(&message),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,catalog=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let result =
        if options.load_test { runtime.block_on(load_test::run(&options)) } else { runtime.block_on(serve(&options)) };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

/// Startup and run-time errors: one line on stderr, exit code 1.
fn fail(message: &str) -> ExitCode {
    eprintln!("catalog: error: {}", db::one_line(message));
    ExitCode::FAILURE
}

/// Opens (and seeds) the database.
pub async fn open_database(options: &Options) -> Result<Db, String> {
    let url = options.database_url()?;
    let db = Db::connect(&url).await?;
    eprintln!("catalog: database at {}", db::redact(&url));
    db.seed(options.products).await?;
    Ok(db)
}

async fn serve(options: &Options) -> Result<(), String> {
    // Before any cache is used, so that every cache reports to it.
    let metrics = PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("memo_load_seconds".into()),
            &[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0],
        )
        .and_then(|b| b.install_recorder())
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    if let Ok(url) = std::env::var("REDIS_URL") {
        memo_runtime::Memo::builder()
            .redis(url.trim())
            .namespace(options.namespace.clone())
            .install()
            .map_err(|e| format!("REDIS_URL: {e}"))?;
    }
    let db = open_database(options).await?;
    // Every category's top list is on the recommendations path: load them before traffic.
    let warmed = memo_runtime::warm(1..=db::CATEGORIES, 8, |c| api::top_in_category(db.clone(), c)).await;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let caching = if memo_runtime::enabled() { "on" } else { "off (MEMO_DISABLE)" };
    let l2 = if memo_runtime::memo::installed_l2().is_some() { "Redis L2" } else { "in-process only" };
    let database = db::redact(&options.database_url()?);
    tracing::info!(%addr, %database, caching, l2, warmed, "catalog ready");
    // The first line on stdout says where to connect (the load generator reads it).
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{addr}");
        let _ = stdout.flush();
    }
    let app = api::router(api::App { db, metrics });
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("stopping: finishing the requests in flight");
        })
        .await
        .map_err(|e| format!("server failed: {e}"))
}
