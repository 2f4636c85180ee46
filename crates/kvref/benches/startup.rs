//! Start-up resolution time against the emulator over real TLS, 25 ms injected on every Key
//! Vault request, with Key Vault's limit of 4,000 requests per 10 s per vault: 10 to 10,000
//! distinct references over 1 and 4 vaults, HTTP/2 and HTTP/1.1, each next to its floors and
//! the CPU time it took; then the cold start of `kvref check` with one reference. (Allocations
//! and peak memory are the `startup_memory` bench's: counting allocations slows every thread.)
//!
//! The floors are what a perfect client needs, in round trips measured in the same run: the
//! challenge, the token, then ceil(secrets per vault / requests in flight) GETs, and never
//! faster than the vault's limit lets requests through. Requests in flight are counted two
//! ways:
//! - one HTTP/2 connection per vault, 100 streams (the issue's floor: "token + challenge +
//!   ceil(distinct secrets per vault / streams) round trips");
//! - every connection kvref opens: up to 4 HTTP/2 connections per vault of 100 streams each,
//!   so a stricter floor.
//!
//! Over HTTP/1.1 both are 64 connections per vault.
//!
//! Both sides run in this process on the same cores, so the CPU time of a resolution (kvref's
//! and the emulator's, from `/proc`) bounds it too: the "CPU bound" column is that time over
//! the machine's cores.
//!
//! Run with `cargo build --release -p kvref-cli && cargo bench -p kvref --bench startup`, or
//! name cases: `cargo bench -p kvref --bench startup -- 1000x4-h2 10000x4-h2` (`--runs=N` for
//! another number of runs per case). The table is printed, between `<!-- startup:begin -->`
//! and `<!-- startup:end -->` as markdown, and (when no case is named) written to
//! `target/bench-results/startup.md`.

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "startup/cases.rs"]
mod cases;
#[path = "startup/cold.rs"]
mod cold;
#[path = "startup/cpu.rs"]
mod cpu;

use std::fmt::Write as _;
use std::time::Duration;

use kvref::resolve::DEFAULT_CONCURRENCY_PER_VAULT;
use kvref::transport::pacing::KEY_VAULT_REQUEST_LIMIT;
use kvref::transport::{DEFAULT_H2_CONNECTIONS_PER_HOST, DEFAULT_H2_STREAMS_PER_CONNECTION};

use cases::{Case, LATENCY, RoundTrips};
use cpu::Cpu;

const REFERENCES: [usize; 4] = [10, 100, 1_000, 10_000];
const VAULT_COUNTS: [usize; 2] = [1, 4];

/// Runs per case: the machine is shared and noisy, so the median of several; one where the
/// vault's limit makes a run last tens of seconds.
fn runs_of(case: &Case) -> usize {
    if case.per_vault() >= KEY_VAULT_REQUEST_LIMIT.requests as usize {
        1
    } else if case.references >= 10_000 {
        3
    } else {
        5
    }
}

/// Requests in flight per vault with `connections` HTTP/2 connections at most.
fn width(case: &Case, connections: usize) -> usize {
    if case.h2 {
        let streams = DEFAULT_H2_STREAMS_PER_CONNECTION;
        case.per_vault().div_ceil(streams).clamp(1, connections) * streams
    } else {
        DEFAULT_CONCURRENCY_PER_VAULT
    }
}

/// The floor with `connections` HTTP/2 connections per vault at most.
fn floor(case: &Case, trips: &RoundTrips, connections: usize) -> Duration {
    let per_vault = case.per_vault();
    let gets = per_vault.div_ceil(width(case, connections)) as u32;
    let by_round_trips = trips.token + trips.vault * (1 + gets);
    // A vault answers `requests` per window: the ones beyond wait for the next windows.
    let limit = KEY_VAULT_REQUEST_LIMIT;
    let windows = (per_vault + 1).div_ceil(limit.requests as usize) - 1;
    by_round_trips.max(limit.window * windows as u32 + trips.token + trips.vault)
}

struct Row {
    case: Case,
    measured: Duration,
    /// One connection per vault (the floor).
    floor_one: Duration,
    /// Every connection kvref may open.
    floor_all: Duration,
    /// The median run's CPU time.
    cpu: Cpu,
    connections: u64,
}

impl Row {
    fn ratio_one(&self) -> f64 {
        self.measured.as_secs_f64() / self.floor_one.as_secs_f64()
    }

    fn ratio_all(&self) -> f64 {
        self.measured.as_secs_f64() / self.floor_all.as_secs_f64()
    }

    fn cpu_per_reference(&self, side: Duration) -> f64 {
        side.as_secs_f64() * 1e6 / self.case.references as f64
    }

    fn cpu_bound(&self, cores: usize) -> Duration {
        self.cpu.total() / cores as u32
    }

    /// The row of the table (see [`table_header`]), printed as each case ends and in the
    /// markdown section.
    fn markdown(&self, cores: usize) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {:.2} | {} | {:.2} | {:.0} + {:.0} µs | {} | {} |",
            self.case.references,
            self.case.vaults,
            self.case.protocol(),
            ms(self.measured),
            ms(self.floor_one),
            self.ratio_one(),
            ms(self.floor_all),
            self.ratio_all(),
            self.cpu_per_reference(self.cpu.kvref),
            self.cpu_per_reference(self.cpu.emulator),
            ms(self.cpu_bound(cores)),
            self.connections
        )
    }
}

/// The table's header lines.
fn table_header(cores: usize) -> String {
    format!(
        "| references | vaults | protocol | measured | floor, 1 connection per vault | ratio | \
         floor, {n} connections per vault | ratio | CPU per reference: kvref + emulator | CPU \
         bound (CPU / {cores} cores) | vault connections |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        n = DEFAULT_H2_CONNECTIONS_PER_HOST
    )
}

/// The command line: the cases named (`1000x4-h2`, `10x1-http/1.1`; with any named, the cold
/// start is skipped) and `--runs=N`, the runs of each case (for a profile of one run).
struct Args {
    names: Vec<String>,
    runs: Option<usize>,
}

impl Args {
    fn parse() -> Self {
        let mut args = Args {
            names: Vec::new(),
            runs: None,
        };
        for arg in std::env::args().skip(1) {
            if let Some(runs) = arg.strip_prefix("--runs=") {
                args.runs = runs.parse().ok().filter(|&n| n > 0);
            } else if !arg.starts_with("--") {
                args.names.push(arg);
            }
        }
        args
    }

    fn keeps(&self, case: &Case) -> bool {
        self.names.is_empty() || self.names.contains(&case.name())
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let (emulator_runtime, runtime) = cases::runtimes();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);

    let small = cases::start_emulator(&emulator_runtime, 1, 1);
    let trips = runtime.block_on(cases::round_trips(&small));
    println!(
        "startup: {} ms injected per Key Vault request, measured round trips: GET {:.1} ms, token {:.1} ms; Key Vault limit {} per {} s per vault; {cores} cores",
        LATENCY.as_millis(),
        trips.vault.as_secs_f64() * 1000.0,
        trips.token.as_secs_f64() * 1000.0,
        KEY_VAULT_REQUEST_LIMIT.requests,
        KEY_VAULT_REQUEST_LIMIT.window.as_secs()
    );

    let args = Args::parse();
    println!("{}", table_header(cores));
    let mut rows = Vec::new();
    for h2 in [true, false] {
        for vaults in VAULT_COUNTS {
            for references in REFERENCES {
                let case = Case {
                    references,
                    vaults,
                    h2,
                };
                if !args.keeps(&case) {
                    continue;
                }
                let runs = args.runs.unwrap_or_else(|| runs_of(&case));
                let row = measure(&emulator_runtime, &runtime, case, runs, &trips);
                println!("{}", row.markdown(cores));
                rows.push(row);
            }
        }
    }

    let cold = if args.names.is_empty() {
        runtime.block_on(cold::measure(
            &small,
            "@Microsoft.KeyVault(SecretUri=https://bencha.vault.azure.net/secrets/s0)",
            5,
        ))
    } else {
        None
    };

    let markdown = markdown(&rows, &trips, cores, cold.as_ref());
    println!("\n<!-- startup:begin -->\n{markdown}<!-- startup:end -->");
    // The file holds the whole table: a run of named cases (a profile's, say) leaves it alone.
    if let Some(path) = results_path().filter(|_| args.names.is_empty()) {
        let written = std::fs::create_dir_all(path.parent().expect("a parent"))
            .and_then(|()| std::fs::write(&path, &markdown));
        match written {
            Ok(()) => println!("written to {}", path.display()),
            Err(e) => println!("not written to {}: {e}", path.display()),
        }
    }
}

/// Runs `case` `runs` times (a fresh emulator each run: its request windows start empty) and
/// keeps the median run.
fn measure(
    emulator_runtime: &tokio::runtime::Runtime,
    runtime: &tokio::runtime::Runtime,
    case: Case,
    runs: usize,
    trips: &RoundTrips,
) -> Row {
    let mut measured = Vec::new();
    let mut connections = 0;
    for _ in 0..runs {
        let emu = cases::start_emulator(emulator_runtime, case.vaults, case.per_vault());
        let mut marks = Vec::new();
        let elapsed = runtime.block_on(cases::resolve_once(&emu, case, &mut || {
            marks.push(Cpu::now())
        }));
        measured.push((elapsed, marks[1].since(marks[0])));
        connections = runtime
            .block_on(emu.tls_handshakes())
            .iter()
            .filter(|(host, _)| host.ends_with(".vault.azure.net"))
            .map(|(_, n)| n)
            .sum();
    }
    measured.sort_by_key(|(elapsed, _)| *elapsed);
    let (measured, cpu) = measured[measured.len() / 2];
    Row {
        case,
        measured,
        floor_one: floor(&case, trips, 1),
        floor_all: floor(&case, trips, DEFAULT_H2_CONNECTIONS_PER_HOST),
        cpu,
        connections,
    }
}

/// `target/bench-results/startup.md`, from this binary's place in `target/release/deps`.
fn results_path() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?.parent()?;
    Some(target.join("bench-results").join("startup.md"))
}

fn markdown(
    rows: &[Row],
    trips: &RoundTrips,
    cores: usize,
    cold: Option<&cold::ColdStart>,
) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Start-up resolution, {} ms injected per Key Vault request (measured round trips: GET \
         {:.1} ms, token {:.1} ms), Key Vault's limit of {} requests per {} s per vault, {cores} \
         cores shared by kvref and the emulator; median of 5 runs (3 for 10,000 \
         references, 1 where the vault's limit makes a run last tens of seconds).\n",
        LATENCY.as_millis(),
        trips.vault.as_secs_f64() * 1000.0,
        trips.token.as_secs_f64() * 1000.0,
        KEY_VAULT_REQUEST_LIMIT.requests,
        KEY_VAULT_REQUEST_LIMIT.window.as_secs()
    );
    let _ = writeln!(md, "{}", table_header(cores));
    for row in rows {
        let _ = writeln!(md, "{}", row.markdown(cores));
    }
    let _ = writeln!(
        md,
        "\nOver HTTP/1.1 both floors are 64 connections per vault. The floor with one connection \
         per vault is the issue's (token + challenge + ceil(secrets per vault / 100 streams) \
         round trips); kvref opens up to {} per vault, and the stricter floor credits them all.\n",
        DEFAULT_H2_CONNECTIONS_PER_HOST
    );
    match cold {
        Some(cold) => {
            let _ = writeln!(
                md,
                "Cold start of `kvref check` with one reference (median of 5): first request \
                 (identity) after {}, first Key Vault request after {}, exit after {}.",
                ms(cold.first_request),
                ms(cold.first_vault_request),
                ms(cold.exit)
            );
        }
        None => {
            let _ = writeln!(
                md,
                "Cold start skipped: build the binary first (`cargo build --release -p kvref-cli`), \
                 and name no cases."
            );
        }
    }
    md
}
