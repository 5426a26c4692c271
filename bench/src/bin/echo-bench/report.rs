//! The report of a run: a table of medians, the median of round-by-round
//! ratios against the baseline server, scaling from 50 to 1000 connections,
//! RSS per idle connection, the burst table, the checks of issue 5's reach,
//! and the same as JSON.
//!
//! Ratios are taken within a round (same minute, same machine state) and the
//! median is taken over rounds, which cancels most of the machine's drift.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Value, json};

/// The server under test.
pub(crate) const SUBJECT: &str = "portable-echo";
/// The server ratios are taken against.
pub(crate) const BASELINE: &str = "tokio-current";

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// One server's runs of one case, by round.
type Rounds<'a> = BTreeMap<u64, &'a Value>;

/// The median over rounds of `key`.
fn median_over(rounds: &Rounds<'_>, key: &str) -> Option<f64> {
    median(rounds.values().map(|v| num(v, key)).collect())
}

/// The median of round-by-round ratios of `key`, `a` over `b`, taken only
/// in rounds both ran.
fn median_ratio(a: &Rounds<'_>, b: &Rounds<'_>, key: &str) -> Option<f64> {
    median(
        a.iter()
            .filter_map(|(round, va)| Some(num(va, key) / num(b.get(round)?, key)))
            .collect(),
    )
}

/// (size, connections)
type Case = (u64, u64);

const METRICS: [(&str, &str); 10] = [
    ("msgs_per_s", "msgs/s"),
    ("mb_per_s", "MB/s"),
    ("p50_us", "p50 us"),
    ("p99_us", "p99 us"),
    ("p999_us", "p999 us"),
    ("syscalls_per_echo", "sys/echo"),
    ("server_cpu_us_per_echo", "srv us/echo"),
    ("server_user_us_per_echo", "srv user us/echo"),
    ("client_cpu_us_per_echo", "cli us/echo"),
    ("errors", "errors"),
];

fn fmt(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(x) if x.abs() >= 1000.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.3}"),
    }
}

fn size_name(size: u64) -> String {
    if size >= 1024 && size % 1024 == 0 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// The text (tables and checks) and the summary (everything but the meta
/// data and the raw runs) of the records of a run: one JSON object per
/// echo-load, echo-idle or echo-burst run, labelled with server and round.
pub(crate) fn report(records: &[Value]) -> (String, Map<String, Value>) {
    let mut loads: BTreeMap<Case, BTreeMap<String, Rounds<'_>>> = BTreeMap::new();
    let mut idles: BTreeMap<String, Rounds<'_>> = BTreeMap::new();
    let mut bursts: BTreeMap<String, Rounds<'_>> = BTreeMap::new();
    let mut servers: Vec<String> = Vec::new();
    for v in records {
        let server = v["label"].as_str().unwrap_or("?").to_string();
        if !servers.contains(&server) {
            servers.push(server.clone());
        }
        let round = v["round"].as_u64().unwrap_or(0);
        if v.get("rss_bytes_per_conn").is_some() {
            idles.entry(server).or_default().insert(round, v);
        } else if v.get("burst").is_some() {
            bursts.entry(server).or_default().insert(round, v);
        } else {
            let case = (num(v, "size") as u64, num(v, "connections") as u64);
            loads
                .entry(case)
                .or_default()
                .entry(server)
                .or_default()
                .insert(round, v);
        }
    }
    // Subject first, baseline second, the rest as they came.
    servers.sort_by_key(|s| {
        if s == SUBJECT {
            0
        } else if s == BASELINE {
            1
        } else {
            2
        }
    });

    let mut out = String::new();
    let mut cases_json = Vec::new();
    if !loads.is_empty() {
        let _ = writeln!(
            out,
            "| size | conns | server | {} |",
            METRICS.map(|(_, h)| h).join(" | ")
        );
        let _ = writeln!(out, "|{}", "---|".repeat(METRICS.len() + 3));
    }
    let ratio_keys = [
        "msgs_per_s",
        "mb_per_s",
        "p99_us",
        "syscalls_per_echo",
        "server_cpu_us_per_echo",
        "server_user_us_per_echo",
        "server_sched_us_per_echo",
    ];
    let mut ratio_lines = String::new();
    for (&(size, conns), by_server) in &loads {
        let mut servers_json = serde_json::Map::new();
        for server in &servers {
            let Some(rounds) = by_server.get(server) else {
                continue;
            };
            let mut cells = Vec::new();
            let mut medians = serde_json::Map::new();
            for (key, _) in METRICS {
                let m = median_over(rounds, key);
                cells.push(fmt(m));
                medians.insert(key.into(), json!(m));
            }
            medians.insert("rounds".into(), json!(rounds.len()));
            let _ = writeln!(
                out,
                "| {} | {conns} | {server} | {} |",
                size_name(size),
                cells.join(" | ")
            );
            servers_json.insert(server.clone(), Value::Object(medians));
        }
        let mut ratios = serde_json::Map::new();
        if let (Some(a), Some(b)) = (by_server.get(SUBJECT), by_server.get(BASELINE)) {
            let mut parts = Vec::new();
            for key in ratio_keys {
                let m = median_ratio(a, b, key);
                ratios.insert(key.into(), json!(m));
                parts.push(format!("{key} {}", fmt(m)));
            }
            let _ = writeln!(
                ratio_lines,
                "- {} x {conns}: {}",
                size_name(size),
                parts.join(", ")
            );
        }
        cases_json.push(json!({
            "size": size,
            "connections": conns,
            "servers": servers_json,
            "ratios_vs_baseline": ratios,
        }));
    }

    if !ratio_lines.is_empty() {
        let _ = writeln!(
            out,
            "\nMedian of round-by-round ratios, {SUBJECT} / {BASELINE}:"
        );
        out.push_str(&ratio_lines);
    }

    // 1000 connections against 50, message rate, per server.
    let mut scaling = serde_json::Map::new();
    let mut scaling_lines = String::new();
    for size in loads.keys().map(|c| c.0).collect::<BTreeSet<_>>() {
        for server in &servers {
            let (Some(many), Some(some)) = (
                loads.get(&(size, 1000)).and_then(|m| m.get(server)),
                loads.get(&(size, 50)).and_then(|m| m.get(server)),
            ) else {
                continue;
            };
            let m = median_ratio(many, some, "msgs_per_s");
            scaling.insert(format!("{server} {size}"), json!(m));
            let _ = writeln!(
                scaling_lines,
                "- {server}, {}: 1000-conn rate / 50-conn rate = {}",
                size_name(size),
                fmt(m)
            );
        }
    }
    if !scaling_lines.is_empty() {
        out.push_str("\nScaling (median of per-round ratios):\n");
        out.push_str(&scaling_lines);
    }

    let mut idle_json = serde_json::Map::new();
    if !idles.is_empty() {
        out.push_str("\nRSS per idle connection (median over rounds):\n");
        for server in &servers {
            let Some(rounds) = idles.get(server) else {
                continue;
            };
            let m = median_over(rounds, "rss_bytes_per_conn");
            let conns = rounds.values().next().map(|v| num(v, "connections"));
            idle_json.insert(server.clone(), json!(m));
            let _ = writeln!(
                out,
                "- {server}: {} bytes per connection ({} idle connections)",
                fmt(m),
                fmt(conns)
            );
        }
    }

    let burst_json = burst_table(&mut out, &servers, &bursts);

    // Issue 5's reach.
    let case_ratio = |case: Case, key: &str| -> Option<f64> {
        cases_json
            .iter()
            .find(|c| c["size"] == case.0 && c["connections"] == case.1)
            .and_then(|c| c["ratios_vs_baseline"][key].as_f64())
    };
    let subject_median = |case: Case, key: &str| -> Option<f64> {
        let rounds = loads.get(&case)?.get(SUBJECT)?;
        median_over(rounds, key)
    };
    let checks: Vec<(String, Option<f64>, &str, f64)> = vec![
        (
            "syscalls/echo, 64 B x 1".into(),
            subject_median((64, 1), "syscalls_per_echo"),
            "<=",
            3.0,
        ),
        (
            "syscalls/echo vs baseline, 64 B x 50".into(),
            case_ratio((64, 50), "syscalls_per_echo"),
            "<=",
            0.85,
        ),
        (
            "server CPU/echo vs baseline, 64 B x 50".into(),
            case_ratio((64, 50), "server_cpu_us_per_echo"),
            "<=",
            0.95,
        ),
        (
            "msgs/s vs baseline, 64 B x 50".into(),
            case_ratio((64, 50), "msgs_per_s"),
            ">=",
            1.0,
        ),
        (
            "MB/s vs baseline, 64 KiB x 10".into(),
            case_ratio((65536, 10), "mb_per_s"),
            ">=",
            1.0,
        ),
        (
            "RSS bytes per idle connection".into(),
            idle_json.get(SUBJECT).and_then(Value::as_f64),
            "<=",
            512.0,
        ),
        (
            "64 B: 1000-conn rate / 50-conn rate".into(),
            scaling
                .get(&format!("{SUBJECT} 64"))
                .and_then(Value::as_f64),
            ">=",
            0.80,
        ),
    ];
    let mut checks_json = Vec::new();
    let _ = writeln!(out, "\nReach (issue 5), {SUBJECT}:");
    for (name, value, op, limit) in &checks {
        let met = value.map(|v| {
            if *op == "<=" {
                v <= *limit
            } else {
                v >= *limit
            }
        });
        let verdict = match met {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "not measured",
        };
        let _ = writeln!(out, "- {name}: {} ({op} {limit}): {verdict}", fmt(*value));
        checks_json
            .push(json!({"check": name, "value": value, "op": op, "limit": limit, "met": met}));
    }

    let mut summary = Map::new();
    summary.insert("subject".into(), SUBJECT.into());
    summary.insert("baseline".into(), BASELINE.into());
    summary.insert("cases".into(), cases_json.into());
    summary.insert("scaling_1000_vs_50".into(), scaling.into());
    summary.insert("idle_rss_bytes_per_conn".into(), idle_json.into());
    summary.insert("burst".into(), burst_json);
    summary.insert("reach".into(), checks_json.into());
    (out, summary)
}

/// Connect-to-greeting of a burst of clients: per server, the median over
/// rounds of each figure, and the round-by-round ratio of p99 against the
/// baseline.
fn burst_table(
    out: &mut String,
    servers: &[String],
    bursts: &BTreeMap<String, Rounds<'_>>,
) -> Value {
    const FIGURES: [(&str, &str); 7] = [
        ("burst_connect_ms", "connects issued in ms"),
        ("burst_p50_ms", "p50 ms"),
        ("burst_p99_ms", "p99 ms"),
        ("burst_max_ms", "max ms"),
        ("burst_slow", "slow"),
        ("burst_not_greeted", "never greeted"),
        ("burst_failed", "failed"),
    ];
    let mut by_server = serde_json::Map::new();
    let mut worst_lines = Vec::new();
    let Some(first) = bursts.values().flat_map(|rounds| rounds.values()).next() else {
        return Value::Object(by_server);
    };
    let _ = writeln!(
        out,
        "\nBurst of {} clients connecting at once, connect to greeting (median over rounds; \
         slow: greeted after {} s):",
        fmt(Some(num(first, "burst"))),
        fmt(Some(num(first, "burst_slow_s")))
    );
    let _ = writeln!(
        out,
        "| server | rounds | {} |",
        FIGURES.map(|(_, h)| h).join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(FIGURES.len() + 2));
    for server in servers {
        let Some(rounds) = bursts.get(server) else {
            continue;
        };
        let mut cells = Vec::new();
        let mut medians = serde_json::Map::new();
        for (key, _) in FIGURES {
            let m = median_over(rounds, key);
            cells.push(fmt(m));
            medians.insert(key.into(), json!(m));
        }
        // The worst round too: one round of SYN retransmits is the finding.
        let worst = |key: &str| rounds.values().map(|v| num(v, key)).fold(0.0, f64::max);
        let (slow, lost) = (worst("burst_slow"), worst("burst_not_greeted"));
        medians.insert("burst_slow_worst_round".into(), json!(slow));
        medians.insert("burst_not_greeted_worst_round".into(), json!(lost));
        medians.insert("rounds".into(), json!(rounds.len()));
        let _ = writeln!(
            out,
            "| {server} | {} | {} |",
            rounds.len(),
            cells.join(" | ")
        );
        worst_lines.push(format!(
            "- {server}: worst round {} slow, {} never greeted",
            fmt(Some(slow)),
            fmt(Some(lost))
        ));
        by_server.insert(server.clone(), Value::Object(medians));
    }
    if let (Some(a), Some(b)) = (bursts.get(SUBJECT), bursts.get(BASELINE)) {
        let m = median_ratio(a, b, "burst_p99_ms");
        let _ = writeln!(
            out,
            "- p99 ratio {SUBJECT} / {BASELINE} (median of per-round ratios): {}",
            fmt(m)
        );
        by_server.insert("p99_ratio_vs_baseline".into(), json!(m));
    }
    for line in worst_lines {
        let _ = writeln!(out, "{line}");
    }
    Value::Object(by_server)
}
