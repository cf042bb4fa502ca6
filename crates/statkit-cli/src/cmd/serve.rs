//! `statkit serve`: the command line made from the server's declared
//! settings (`statkit_serve::settings`), laid over the environment and the
//! config file; then bind, print the addresses, and run until SIGTERM or
//! SIGINT.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use statkit_serve::config::LogFormat;
use statkit_serve::requests::GstatsSockets;
use statkit_serve::settings::{flag_of, Declared};
use statkit_serve::{config, BindError, Config, Listeners, Settings, StateDir};

use super::{Hinted, UsageError};

/// Run the statsd server. Every setting is a flag, an environment variable
/// (`STATKIT_` and the flag's name) and a key of the TOML file given to
/// --config; flags win over the environment, which wins over the file.
/// `--print-config` prints them all with their values.
#[derive(Debug)]
pub struct ServeArgs {
    /// The TOML configuration file.
    config: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    print_config: bool,
    /// Each setting given on the command line: its key and values.
    flags: Vec<(&'static str, Vec<String>)>,
}

/// The heading a setting's flag is listed under in `--help`.
fn heading(key: &str) -> &'static str {
    match key.split_once('.').map(|(section, _)| section) {
        None => "Settings",
        Some("graphite_names") => "Graphite names ([graphite_names])",
        Some("http" | "load" | "statvent") => "HTTP ([http], [load], [statvent])",
        Some("store" | "state") => "History store ([store], [state])",
        Some("stats" | "pipe") => "Stats files and pipes ([stats], [pipe])",
        Some("requests") => "Request view ([requests])",
        Some(_) => "More settings",
    }
}

/// The flag of one declared setting.
fn arg(setting: &'static dyn Declared) -> Arg {
    let long = setting.flag();
    let help = format!(
        "{} [default: {}] [env: {}]",
        setting.help(),
        setting.default_shown(),
        setting.env()
    );
    let mut arg = Arg::new(setting.key())
        .long(long.trim_start_matches("--").to_owned())
        .value_name(setting.value_name())
        .help(help)
        .help_heading(heading(setting.key()))
        .allow_negative_numbers(true);
    let aliases: Vec<String> = setting
        .aliases()
        .iter()
        .map(|a| flag_of(a.key).trim_start_matches("--").to_owned())
        .filter(|a| *a != long.trim_start_matches("--"))
        .collect();
    arg = arg.aliases(aliases);
    if setting.is_switch() {
        arg = arg
            .num_args(0..=1)
            .default_missing_value("true")
            .action(ArgAction::Set);
    } else if setting.is_list() {
        arg = arg.action(ArgAction::Append);
    }
    arg
}

impl clap::FromArgMatches for ServeArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = Vec::new();
        for setting in config::registry() {
            if setting.is_file_only()
                || matches.value_source(setting.key()) != Some(ValueSource::CommandLine)
            {
                continue;
            }
            let values = matches
                .get_many::<String>(setting.key())
                .map(|values| values.cloned().collect())
                .unwrap_or_default();
            flags.push((setting.key(), values));
        }
        Ok(ServeArgs {
            config: matches.get_one::<PathBuf>("config").cloned(),
            print_config: matches.get_flag("print_config"),
            flags,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for ServeArgs {
    fn augment_args(command: Command) -> Command {
        let command = command
            .arg(
                Arg::new("config")
                    .long("config")
                    .env("STATKIT_CONFIG")
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help("TOML configuration file"),
            )
            .arg(
                Arg::new("print_config")
                    .long("print-config")
                    .action(ArgAction::SetTrue)
                    .help("Print the effective configuration (defaults, file, environment, flags) as TOML and exit"),
            );
        config::registry()
            .into_iter()
            .filter(|setting| !setting.is_file_only())
            .fold(command, |command, setting| command.arg(arg(setting)))
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

impl ServeArgs {
    /// The settings from the file, the environment and the flags.
    fn settings(&self) -> Result<Settings, UsageError> {
        let usage = |e: statkit_serve::ConfigError| UsageError(e.to_string());
        let mut layers = config::layers();
        if let Some(path) = &self.config {
            layers.file(path).map_err(usage)?;
        }
        layers.env(std::env::vars()).map_err(usage)?;
        for (key, values) in &self.flags {
            layers.flag(key, values).map_err(usage)?;
        }
        layers.resolve().map_err(usage)
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let settings = args.settings()?;
    if args.print_config {
        let mut out = std::io::stdout().lock();
        out.write_all(statkit_serve::settings::print_toml(&settings).as_bytes())?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = Config::try_from(settings).map_err(|e| UsageError(e.to_string()))?;
    limit_malloc_arenas();
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .map_err(|e| UsageError(format!("log: {e}")))?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().init(),
    }
    // Held until the server has stopped: two servers never share a folder.
    let _state = match &config.state_dir {
        Some(dir) => {
            let locked = StateDir::open(dir).map_err(|e| UsageError(e.to_string()))?;
            tracing::info!(dir = %locked.path().display(), "keeping state");
            Some(locked)
        }
        None => None,
    };
    let listeners = Listeners::bind(&config).map_err(hint)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("statkit-async")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async {
        // Signal handlers first: a SIGTERM right after `ready` must get the
        // final flush, not the default action.
        let shutdown = shutdown_signal()?;
        let mut listeners = listeners;
        listeners.gstats = GstatsSockets::bind(&config.requests).await?;
        announce(&listeners, &config)?;
        statkit_serve::run(config, listeners, shutdown)
            .await
            .context("running the server")
    });
    // The server has delivered what it could; a blocking write stuck on a
    // stalled stdout must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result?;
    Ok(ExitCode::SUCCESS)
}

/// glibc gives every thread that allocates a malloc arena of its own, each
/// with partly used pages resident. The server allocates off its hot paths
/// (receivers reuse their buffers), so sharing a few arenas costs no speed
/// and keeps about a megabyte less resident. A `MALLOC_ARENA_MAX` set in
/// the environment wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter, and this runs
        // before the server starts any thread.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}

/// Arenas for the whole process: receivers and the flusher allocate rarely.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENAS: libc::c_int = 2;

/// Prints where the server listens, one `listening KIND ADDR` line each,
/// then `ready`: scripts and tests read these (ask for port 0 and learn it).
fn announce(listeners: &Listeners, config: &Config) -> anyhow::Result<()> {
    let statsd = listeners.statsd_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening statsd-udp {statsd}")?;
    writeln!(out, "listening statsd-tcp {statsd}")?;
    writeln!(out, "listening admin {}", listeners.admin_addr()?)?;
    if let Some(http) = listeners.http_addr()? {
        writeln!(out, "listening http {http}")?;
    }
    if let Some(load) = listeners.load_addr()? {
        writeln!(out, "listening load {load}")?;
    }
    if let Some(endpoint) = listeners.gstats.pull_endpoint() {
        writeln!(out, "listening gstats-pull {endpoint}")?;
    }
    if let Some(endpoint) = listeners.gstats.rep_endpoint() {
        writeln!(out, "listening gstats-rep {endpoint}")?;
    }
    if let Some(statvent) = listeners.statvent_addr()? {
        writeln!(out, "listening statvent {statvent}")?;
    }
    if let Some(path) = &config.statsd.unix_socket {
        writeln!(out, "listening statsd-unix {}", path.display())?;
    }
    for graphite in &config.sinks.graphite {
        writeln!(out, "sending graphite {graphite}")?;
    }
    writeln!(out, "ready")?;
    out.flush()?;
    let http = listeners.http_addr()?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        statsd = %statsd,
        admin = %listeners.admin_addr()?,
        http = http.map(tracing::field::display),
        graphite = config.sinks.graphite.len(),
        "statkit serve started"
    );
    Ok(())
}

/// A listener that cannot be bound, with what to do when its address is
/// taken (most often by a statkit already running).
fn hint(error: BindError) -> anyhow::Error {
    if error.source.kind() != std::io::ErrorKind::AddrInUse {
        return error.into();
    }
    let flag = flag_of(error.setting);
    let other = if error.what.ends_with("(unix)") {
        format!("another path with {flag} PATH")
    } else {
        format!("another address with {flag} 127.0.0.1:0")
    };
    let hint =
        format!("is another statkit running? `statkit ctl health` asks it, or choose {other}");
    Hinted::new(error, hint).into()
}

/// Completes on SIGTERM or SIGINT.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
