//! The alerts and the dashboards are true to the metrics: every metric that
//! an alert rule (`deploy/prometheus/rules.yml`) or a dashboard panel
//! (`deploy/grafana/dashboards/*.json`) names is exported by the real
//! platform — membership, capacity and grants on PostgreSQL and NATS
//! JetStream — under load: creates through the gRPC API, their events applied
//! by the consumers, and one event dead-lettered.
//!
//! The names are read from the files themselves (the PromQL is parsed far
//! enough to tell a metric from a function, a keyword or a label), so a
//! renamed metric or a panel on a metric that does not exist fails here.
//!
//! Its own test binary: the metrics registry is global to the process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use markaz_capacity::Capacity;
use markaz_e2e::{LEDGER, Ledger, http_get, lines};
use markaz_grants::Grants;
use markaz_kit::auth::Role;
use markaz_kit::testing::{Backend, TestEnv, authed, eventually};
use markaz_membership::Membership;
use markaz_proto::common::v1::{LocalizedText, OrganizationKind};
use markaz_proto::membership::v1 as api;
use markaz_proto::membership::v1::membership_service_client::MembershipServiceClient;

const TENANT: &str = "dashboards";
const WAIT: Duration = Duration::from_secs(30);

/// Series Prometheus makes itself, not the scraped process.
const MADE_BY_PROMETHEUS: &[&str] = &[
    "up",
    "ALERTS",
    "ALERTS_FOR_STATE",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the repository")
}

/// Every metric an alert or a panel names, with where it is named.
fn referenced_metrics() -> BTreeMap<String, BTreeSet<String>> {
    let mut referenced: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let rules_path = repository().join("deploy/prometheus/rules.yml");
    let rules = std::fs::read_to_string(&rules_path).expect("rules.yml");
    let mut exprs: Vec<(String, String)> = rule_exprs(&rules)
        .into_iter()
        .map(|(rule, expr)| (format!("rules.yml: {rule}"), expr))
        .collect();
    let dashboards = repository().join("deploy/grafana/dashboards");
    for entry in std::fs::read_dir(&dashboards).expect("dashboards") {
        let path = entry.expect("dashboard").path();
        if path.extension().is_some_and(|e| e == "json") {
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("dashboard"))
                    .expect("a dashboard is JSON");
            let file = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            panel_exprs(&json, &file, &mut exprs);
        }
    }
    for (place, expr) in exprs {
        let names = metric_names(&expr);
        assert!(!names.is_empty(), "{place} names no metric: {expr}");
        for name in names {
            referenced.entry(name).or_default().insert(place.clone());
        }
    }
    referenced
}

/// The `expr` of every rule in a rules file, by the rule's name. Reads the
/// two forms rules.yml uses — `expr: <one line>` and `expr: |` with an
/// indented block — and checks that every rule had one, so a rule written
/// another way fails here instead of going unchecked.
fn rule_exprs(yaml: &str) -> Vec<(String, String)> {
    let mut exprs = Vec::new();
    let mut rules = 0;
    let mut current = String::new();
    let lines: Vec<&str> = yaml.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let item = trimmed.strip_prefix("- ").unwrap_or(trimmed);
        if let Some(name) = item
            .strip_prefix("alert:")
            .or_else(|| item.strip_prefix("record:"))
        {
            rules += 1;
            current = name.trim().to_string();
        } else if let Some(value) = trimmed.strip_prefix("expr:") {
            let value = value.trim();
            if value.starts_with('|') || value.starts_with('>') {
                let mut block = Vec::new();
                while i + 1 < lines.len()
                    && (lines[i + 1].trim().is_empty() || indent(lines[i + 1]) > indent(line))
                {
                    i += 1;
                    block.push(lines[i].trim());
                }
                exprs.push((current.clone(), block.join("\n")));
            } else {
                assert!(
                    !value.starts_with('"') && !value.starts_with('\''),
                    "{current}: write the expr plain or as a block, not quoted"
                );
                exprs.push((current.clone(), value.to_string()));
            }
        }
        i += 1;
    }
    assert_eq!(exprs.len(), rules, "every rule has one expr: {exprs:?}");
    exprs
}

/// The queries of every panel of a Grafana dashboard (rows included).
fn panel_exprs(value: &serde_json::Value, file: &str, out: &mut Vec<(String, String)>) {
    let Some(panels) = value.get("panels").and_then(|p| p.as_array()) else {
        return;
    };
    for panel in panels {
        let title = panel.get("title").and_then(|t| t.as_str()).unwrap_or("");
        for target in panel
            .get("targets")
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(expr) = target.get("expr").and_then(|e| e.as_str()) {
                out.push((format!("{file}: {title}"), expr.to_string()));
            }
        }
        panel_exprs(panel, file, out);
    }
}

/// Words of PromQL that are not metric names: aggregations (`sum by (x)`
/// is not followed by a parenthesis), set operators, modifiers, literals,
/// and the keywords of [`LABEL_LISTS`].
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "and",
    "or",
    "unless",
    "atan2",
    "bool",
    "offset",
    "inf",
    "nan",
];

/// Keywords whose parenthesis lists label names, not an expression.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names a PromQL expression selects. Skips strings, label
/// matchers `{...}`, ranges `[...]`, label lists (`by (...)`), numbers and
/// durations, Grafana variables (`$__rate_interval`), and identifiers that are
/// keywords or called as functions.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    // The index just past the bracket closing the one at `open`.
    let skip_group = |open: usize, close: char| {
        let mut i = open + 1;
        let mut quote = None;
        while i < chars.len() {
            match (quote, chars[i]) {
                (Some(_), '\\') => i += 1,
                (Some(q), c) if c == q => quote = None,
                (None, c @ ('"' | '\'' | '`')) => quote = Some(c),
                (None, c) if c == close => return i + 1,
                _ => {}
            }
            i += 1;
        }
        i
    };
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            // A string literal (a label value outside braces, e.g. in
            // label_replace).
            let mut j = i + 1;
            while j < chars.len() && chars[j] != c {
                if chars[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            i = j + 1;
        } else if c == '{' {
            i = skip_group(i, '}');
        } else if c == '[' {
            i = skip_group(i, ']');
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '$' {
            i += 1;
            while i < chars.len() && (ident(chars[i]) || matches!(chars[i], '{' | '}')) {
                i += 1;
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // A number (1e-9, 0x1f, .5) or a duration (15m, 1h30m).
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                let exponent = matches!(chars[i], 'e' | 'E')
                    && chars.get(i + 1).is_some_and(|n| matches!(n, '+' | '-'));
                i += if exponent { 2 } else { 1 };
            }
        } else if ident(c) {
            let start = i;
            while i < chars.len() && ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let called = chars.get(next) == Some(&'(');
            let lower = word.to_ascii_lowercase();
            if LABEL_LISTS.contains(&lower.as_str()) && called {
                i = skip_group(next, ')');
            } else if !called
                && !KEYWORDS.contains(&lower.as_str())
                && !LABEL_LISTS.contains(&lower.as_str())
            {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn metric_names_are_read_from_promql() {
    let cases: &[(&str, &[&str])] = &[
        (
            r#"sum by (service) (rate(markaz_rpc_requests_total{code=~"INTERNAL|UNAVAILABLE"}[5m]))
               / clamp_min(sum by (service) (rate(markaz_rpc_requests_total[$__rate_interval])), 1e-9) > 0.01"#,
            &["markaz_rpc_requests_total"],
        ),
        (
            "histogram_quantile(0.99, sum by (consumer, le) (rate(markaz_event_lag_seconds_bucket[5m]))) > 5",
            &["markaz_event_lag_seconds_bucket"],
        ),
        (
            "sum by (consumer) (increase(markaz_dead_letters_total[15m])) > 0
               or sum by (consumer) (markaz_dead_letters_total unless markaz_dead_letters_total offset 15m) > 0",
            &["markaz_dead_letters_total"],
        ),
        (
            r#"process_open_fds{job="markaz"} / on (instance) group_left process_max_fds{job="markaz"} > 0.8"#,
            &["process_max_fds", "process_open_fds"],
        ),
        (
            r#"max without (pod) (a:recorded:rate5m{le="+Inf"}) * 400 * 1024 and up == 0"#,
            &["a:recorded:rate5m", "up"],
        ),
    ];
    for (expr, expected) in cases {
        let names: Vec<String> = metric_names(expr).into_iter().collect();
        assert_eq!(names, *expected, "{expr}");
    }
}

#[test]
fn rule_exprs_are_read_inline_and_as_blocks() {
    let yaml = "groups:\n  - name: g\n    rules:\n      - alert: One\n        expr: up == 0\n        for: 1m\n      - alert: Two\n        expr: |\n          a_total\n            > 1\n        labels: {x: y}\n";
    assert_eq!(
        rule_exprs(yaml),
        vec![
            ("One".to_string(), "up == 0".to_string()),
            ("Two".to_string(), "a_total\n> 1".to_string()),
        ]
    );
}

/// The names of the samples of a Prometheus text exposition.
fn exported_samples(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_an_alert_or_a_panel_names_is_exported_under_load() {
    let referenced = referenced_metrics();
    // Every alert and every panel read: a sanity floor, not a snapshot.
    assert!(referenced.len() >= 10, "{referenced:?}");

    let env = TestEnv::new(Backend::Postgres);
    let app = env
        .start(vec![
            Arc::new(Membership),
            Arc::new(Capacity),
            Arc::new(Grants),
            Arc::new(Ledger),
        ])
        .await
        .expect("the platform starts");
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.grpc_addr()))
        .expect("address")
        .connect()
        .await
        .expect("connects");
    let mut membership = MembershipServiceClient::new(channel);
    membership
        .create_tenant(authed(
            api::CreateTenantRequest {
                tenant: Some(api::Tenant {
                    id: TENANT.into(),
                    name: Some(LocalizedText {
                        ar: "لوحات".into(),
                        en: "Dashboards".into(),
                    }),
                    ..Default::default()
                }),
            },
            &env.operator_token(),
        ))
        .await
        .expect("tenant");
    let staff = env.token(TENANT, &[Role::Staff], None);
    // Organizations reach capacity, grants and the ledger as events; the
    // ledger cannot digest "poison", which ends in the dead letters.
    let mut last = String::new();
    for name in (0..20)
        .map(|n| format!("Organization {n}"))
        .chain(["poison".to_string()])
    {
        let org = membership
            .create_organization(authed(
                api::CreateOrganizationRequest {
                    organization: Some(api::Organization {
                        kind: OrganizationKind::Cso as i32,
                        name: Some(LocalizedText {
                            ar: "منظمة".into(),
                            en: name.clone(),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                &staff,
            ))
            .await
            .expect("organization")
            .into_inner();
        if name != "poison" {
            last = org.id;
        }
    }
    let ledger = app.db(LEDGER).expect("ledger").clone();
    let applied = eventually(WAIT, || {
        let (ledger, last) = (ledger.clone(), last.clone());
        async move { (lines(&ledger, TENANT, &last).await == 1).then_some(()) }
    })
    .await;
    assert!(applied.is_some(), "the events were applied");

    // Gauges sampled on a timer may take a round to appear: scrape until
    // every referenced metric is there, or the wait is over.
    let metrics_addr = app.metrics_addr().expect("metrics served");
    let wanted: Vec<&String> = referenced
        .keys()
        .filter(|name| !MADE_BY_PROMETHEUS.contains(&name.as_str()))
        .collect();
    let missing_from = |exposition: &str| -> Vec<String> {
        let exported = exported_samples(exposition);
        wanted
            .iter()
            .filter(|name| !exported.contains(name.as_str()))
            .map(|name| name.to_string())
            .collect()
    };
    let complete = eventually(WAIT, || async {
        missing_from(&http_get(metrics_addr, "/metrics").await)
            .is_empty()
            .then_some(())
    })
    .await;
    let missing = missing_from(&http_get(metrics_addr, "/metrics").await);
    app.shutdown().await;
    let report: Vec<String> = missing
        .iter()
        .map(|name| {
            let places: Vec<&str> = referenced[name].iter().map(String::as_str).collect();
            format!("{name} (named by {})", places.join("; "))
        })
        .collect();
    assert!(
        complete.is_some(),
        "metrics named by alerts or panels that the platform does not export:\n  {}",
        report.join("\n  ")
    );
}
