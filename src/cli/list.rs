//! `kubepool list`: nodes (or requests), like `nodepool list`.

use super::zk_args::ZkArgs;
use crate::Error;
use crate::operations::{self, NodeRow, RequestRow};
use clap::Args;

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// List node requests instead of nodes.
    #[arg(long)]
    pub requests: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: ListArgs) -> Result<(), Error> {
    let store = args.zk.store().await?;
    if args.requests {
        let rows = operations::list_requests(&store).await?;
        print(args.json, &rows, request_table)
    } else {
        let rows = operations::list_nodes(&store).await?;
        print(args.json, &rows, node_table)
    }
}

fn print<T: serde::Serialize>(json: bool, rows: &[T], table: fn(&[T]) -> String) -> Result<(), Error> {
    if json {
        let text = serde_json::to_string_pretty(rows).map_err(|e| Error::Output(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", table(rows));
    }
    Ok(())
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("-")
}

fn age(seconds: Option<f64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) if s < 120.0 => format!("{s:.0}s"),
        Some(s) if s < 7200.0 => format!("{:.0}m", s / 60.0),
        Some(s) => format!("{:.1}h", s / 3600.0),
    }
}

fn node_table(rows: &[NodeRow]) -> String {
    let mut lines = vec![
        ["ID", "PROVIDER", "POOL", "LABEL", "STATE", "AGE", "EXTERNAL ID", "ALLOCATED TO", "LOCKED"]
            .map(str::to_string)
            .to_vec(),
    ];
    for r in rows {
        lines.push(vec![
            r.id.clone(),
            opt(&r.provider).into(),
            opt(&r.pool).into(),
            opt(&r.label).into(),
            r.state.as_str().into(),
            age(r.age),
            opt(&r.external_id).into(),
            opt(&r.allocated_to).into(),
            if r.locked { "locked" } else { "unlocked" }.into(),
        ]);
    }
    columns(&lines)
}

fn request_table(rows: &[RequestRow]) -> String {
    let mut lines =
        vec![["ID", "STATE", "LABELS", "NODES", "DECLINED BY", "TENANT", "AGE"].map(str::to_string).to_vec()];
    for r in rows {
        lines.push(vec![
            r.id.clone(),
            r.state.as_str().into(),
            r.labels.join(","),
            if r.nodes.is_empty() { "-".into() } else { r.nodes.join(",") },
            r.declined_by.len().to_string(),
            opt(&r.tenant).into(),
            age(r.age),
        ]);
    }
    columns(&lines)
}

/// Left-aligned columns separated by two spaces.
fn columns(lines: &[Vec<String>]) -> String {
    let widths: Vec<usize> =
        (0..lines[0].len()).map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
