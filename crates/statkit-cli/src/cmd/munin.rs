//! `statkit munin`: the request view as munin plug-ins (gstats' graphs),
//! and any series as `statkit_metrics_<name>` ([`super::munin_metrics`]).
//!
//! munin runs a plug-in by its file name, so the binary is linked under the
//! names [`statkit_encode::munin`] reads (`statkit_requests_<slug>`,
//! `gunicorn-request-time_<slug>`, ...) and `main` hands such a call here
//! (see [`link_name`]). `statkit munin --name NAME [ACTION]` does the same
//! from the command line. The numbers come from the admin port: munin's
//! `env.status_addr` (an optional `tcp://` is ignored), else
//! `STATKIT_ADMIN`, else 127.0.0.1:8126.

use std::io::Write;
use std::process::ExitCode;

use statkit_encode::gstats::{self, StatsReply};
use statkit_encode::munin::{self, Plugin};

use super::ctl::Admin;
use super::munin_metrics;
use super::UsageError;

/// Act as a munin plug-in (normally run through a link named after the
/// graph, e.g. `statkit_requests_my_app`).
#[derive(Debug, clap::Args)]
pub struct MuninArgs {
    /// The plug-in to act as: statkit_requests_<slug>,
    /// statkit_request_time_<slug>, gunicorn-requests_<slug>,
    /// gunicorn-request-time_<slug>, statkit_requests for every prefix
    /// (multigraph), or statkit_metrics_<name> for the series in
    /// `$metrics`.
    #[arg(long, value_name = "NAME")]
    name: String,
    /// `config`, `autoconf`, `suggest`, or nothing for the values.
    action: Option<String>,
}

/// Seconds to wait for the server: munin gives a plug-in 10 in all.
const TIMEOUT: f64 = 5.0;

/// The file name the binary was run as, when it is a plug-in's name.
pub fn link_name() -> Option<String> {
    let argv0 = std::env::args_os().next()?;
    let name = std::path::Path::new(&argv0)
        .file_name()?
        .to_str()?
        .to_owned();
    let known = name.starts_with(munin_metrics::STEM) || Plugin::from_name(&name).is_some();
    known.then_some(name)
}

pub fn run(args: MuninArgs) -> anyhow::Result<ExitCode> {
    run_as(&args.name, args.action.as_deref())
}

/// Runs plug-in `name` with munin's `action` argument.
pub fn run_as(name: &str, action: Option<&str>) -> anyhow::Result<ExitCode> {
    if name.starts_with(munin_metrics::STEM) {
        return munin_metrics::run_as(name, action);
    }
    let Some(plugin) = Plugin::from_name(name) else {
        return Err(UsageError(format!("{name} is not a statkit munin plug-in name")).into());
    };
    let mut out = std::io::stdout().lock();
    let plugin = match plugin {
        Ok(plugin) => plugin,
        Err(link) => {
            writeln!(out, "{link}")?;
            return Ok(ExitCode::FAILURE);
        }
    };
    let admin = Admin::new(&address(), TIMEOUT)?;
    let stats =
        || -> anyhow::Result<StatsReply> { Ok(gstats::parse_stats(&admin.requests("stats")?)?) };
    let text = match (action, &plugin) {
        (Some("autoconf"), _) => match stats() {
            Ok(_) => "yes\n".to_owned(),
            Err(e) => format!("no ({e:#})\n"),
        },
        (Some("suggest"), _) => munin::suggest(&stats()?),
        (Some("config"), Plugin::All) => munin::multigraph(&stats()?, true),
        (None | Some("fetch"), Plugin::All) => munin::multigraph(&stats()?, false),
        (Some("config"), Plugin::Single { graph, slug }) => {
            // gstats' plug-in titled the graph with the prefix itself; for
            // a prefix not seen (yet), the slug stands in.
            let stats = stats()?;
            let prefix = munin::find(&stats, slug).map_or(slug.as_str(), |(p, _)| p);
            munin::config(*graph, prefix)
        }
        (None | Some("fetch"), Plugin::Single { graph, slug }) => {
            let stats = stats()?;
            let Some((_, numbers)) = munin::find(&stats, slug) else {
                anyhow::bail!("no prefix with the slug {slug:?} in the request view");
            };
            munin::fetch(*graph, numbers)
        }
        (Some(other), _) => {
            return Err(UsageError(format!("unknown munin action {other:?}")).into())
        }
    };
    if matches!(plugin, Plugin::All) && action != Some("autoconf") && !multigraph_capable() {
        writeln!(
            out,
            "munin-node does not support multigraph: please link as statkit_requests_<prefix>"
        )?;
        return Ok(ExitCode::FAILURE);
    }
    out.write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// munin-node says it reads multigraph output by setting this.
fn multigraph_capable() -> bool {
    std::env::var("MUNIN_CAP_MULTIGRAPH").is_ok_and(|v| v == "1")
}

fn address() -> String {
    let address = std::env::var("status_addr")
        .or_else(|_| std::env::var("STATKIT_ADMIN"))
        .unwrap_or_else(|_| "127.0.0.1:8126".to_owned());
    address
        .strip_prefix("tcp://")
        .unwrap_or(&address)
        .to_owned()
}
