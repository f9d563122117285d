//! The client commands: `markaz report` and `markaz demo seed`, against a
//! running Markaz over its public gRPC APIs (`markaz-client`).

use std::time::Duration;

use clap::Args;
use markaz_client::labels::Lang;
use markaz_client::progress::Progress;
use markaz_client::report::{self, Format, Query};
use markaz_client::rpc::{self, Api};
use markaz_kit::time::Date;

/// Where the server is and who is calling.
#[derive(Debug, Args)]
pub struct Target {
    /// The gRPC address, as `markaz dev` prints it (plaintext).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    addr: String,
    /// A bearer token (else MARKAZ_TOKEN): `markaz dev` prints an admin token for tenant
    /// 'demo'; `markaz token issue --tenant T --role staff` makes one.
    #[arg(long)]
    token: Option<String>,
}

impl Target {
    async fn api(&self) -> Result<Api, String> {
        let token = rpc::token(self.token.clone())?;
        Api::new(rpc::connect(&self.addr).await?, &token)
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    target: Target,
    /// First day, YYYY-MM-DD (default: January 1st of this year).
    #[arg(long)]
    from: Option<String>,
    /// Last day, included, YYYY-MM-DD (default: December 31st of this year).
    #[arg(long)]
    until: Option<String>,
    /// Only this branch (its id, e.g. raqqa).
    #[arg(long)]
    branch: Option<String>,
    /// Only female, male or undisclosed people.
    #[arg(long)]
    gender: Option<String>,
    /// Only this training or consultation topic (its code).
    #[arg(long)]
    topic: Option<String>,
    /// Split by dimensions, comma-separated or repeated (at most four): gender, age-band,
    /// branch, topic, course-kind, consultation-kind, organization-kind, incubation-status,
    /// sector, currency, month, quarter, year, event-kind, participant-category, resource-kind,
    /// space-kind.
    #[arg(long)]
    by: Vec<String>,
    /// Group a dimension's values by one of impact's versioned schemes: DIMENSION=SCHEME[/VERSION]
    /// (repeatable), e.g. age-band=age-groups/2; the newest version without one.
    #[arg(long = "scheme")]
    schemes: Vec<String>,
    /// An indicator code (repeatable); default: every indicator that has the dimensions asked.
    #[arg(long = "indicator")]
    indicators: Vec<String>,
    /// table, csv or json.
    #[arg(long, default_value = "table")]
    format: String,
    /// ar or en: the language of names in the table and CSV.
    #[arg(long, default_value = "ar")]
    lang: String,
    /// Seconds to wait for the figures to settle before printing what there is.
    #[arg(long, default_value_t = 30)]
    wait: u64,
}

pub async fn report(args: ReportArgs) -> Result<(), String> {
    let today = Date::today();
    let mut query = Query::this_year(today);
    if let Some(from) = &args.from {
        query.from = report::parse_date("--from", from)?;
    }
    if let Some(until) = &args.until {
        query.until = report::parse_date("--until", until)?;
    }
    if query.until < query.from {
        return Err(format!(
            "--until {} is before --from {}",
            query.until, query.from
        ));
    }
    query.branch = args.branch.unwrap_or_default().trim().to_string();
    query.topic = args.topic.unwrap_or_default().trim().to_string();
    if let Some(g) = &args.gender {
        query.gender = report::parse_gender(g)?;
    }
    query.by = report::parse_by(&args.by)?;
    query.schemes = args
        .schemes
        .iter()
        .map(|s| report::parse_scheme(s))
        .collect::<Result<_, _>>()?;
    query.codes = args
        .indicators
        .iter()
        .flat_map(|c| c.split(','))
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    let format = Format::parse(&args.format)?;
    let lang = Lang::parse(&args.lang)?;
    let api = args.target.api().await?;
    let (text, warning) = report::run(
        &api,
        &query,
        lang,
        format,
        Duration::from_secs(args.wait),
        &Progress::stderr(),
    )
    .await?;
    print!("{text}");
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    target: Target,
}

pub async fn seed(args: SeedArgs) -> Result<(), String> {
    let api = args.target.api().await?;
    let started = std::time::Instant::now();
    let summary = markaz_client::demo::seed(api, Date::today(), Progress::stderr()).await?;
    let created = summary.created_total();
    println!(
        "demo seed: {} in {:.1} s",
        if created == 0 {
            "nothing to create, the center was seeded already".to_string()
        } else {
            format!("{created} records created")
        },
        started.elapsed().as_secs_f64()
    );
    let kinds: std::collections::BTreeSet<&str> = summary
        .created
        .keys()
        .chain(summary.found.keys())
        .copied()
        .collect();
    for kind in kinds {
        println!(
            "  {kind:<22} {:>5} created  {:>5} found",
            summary.created.get(kind).copied().unwrap_or(0),
            summary.found.get(kind).copied().unwrap_or(0)
        );
    }
    if let (Some(first), Some(last)) = (summary.first_day, summary.last_day) {
        println!(
            "\nThe activity spans {first} to {last}. The figures, once impact has applied the events:\n\n  \
             markaz report --from {first} --until {last} --by branch\n\n(see docs/demo.md for the source's figures and what they become)"
        );
    }
    Ok(())
}
