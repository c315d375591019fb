//! Nodepool's status tables (`nodepool/status.py`): what `/node-list`, `/request-list` and
//! `/label-list` of the webapp and `kubepool list` / `request-list` show, read from ZooKeeper
//! and rendered as Nodepool renders them: a PrettyTable ([`pretty`]) or `json.dumps`
//! ([`python`]).

pub mod pretty;
pub mod python;

use crate::zk::{Store, ZkError, model::now};
use serde_json::Value;

/// Rows of one listing: each row holds a value per header, in the headers' order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// (key, title), e.g. `("server_id", "Server ID")`.
    pub headers: Vec<(&'static str, &'static str)>,
    pub rows: Vec<Vec<Value>>,
}

/// The output formats of Nodepool's `status.output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pretty,
    Json,
}

impl Table {
    fn new(headers: &[(&'static str, &'static str)]) -> Self {
        Self { headers: headers.to_vec(), rows: Vec::new() }
    }

    /// `status.output(results, fmt, fields)`: `fields` (keys) limit the columns of the text
    /// table; JSON always has every key.
    pub fn output(&self, format: Format, fields: Option<&[&str]>) -> String {
        match format {
            Format::Json => {
                let objects: Vec<String> = self
                    .rows
                    .iter()
                    .map(|row| {
                        let entries: Vec<(&str, Value)> =
                            self.headers.iter().zip(row).map(|((key, _), value)| (*key, value.clone())).collect();
                        python::json_dumps_object(&entries)
                    })
                    .collect();
                format!("[{}]", objects.join(", "))
            }
            Format::Pretty => {
                let shown: Vec<usize> = (0..self.headers.len())
                    .filter(|&i| fields.is_none_or(|fields| fields.contains(&self.headers[i].0)))
                    .collect();
                let titles: Vec<&str> = shown.iter().map(|&i| self.headers[i].1).collect();
                let rows: Vec<Vec<String>> = self
                    .rows
                    .iter()
                    .map(|row| shown.iter().map(|&i| cell(self.headers[i].0, &row[i])).collect())
                    .collect();
                pretty::render(&titles, &rows)
            }
        }
    }
}

/// A value in a text table, as `_to_pretty_table` writes it: a list joined by commas, nothing
/// for None, an `*age` number of seconds since the epoch as an age, else `str(value)`.
fn cell(key: &str, value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Number(n) if key == "age" || key.ends_with("_age") => {
            n.as_f64().map(|t| age(t.trunc(), now())).unwrap_or_default()
        }
        Value::Array(items) => items.iter().map(python::str_of).collect::<Vec<_>>().join(","),
        other => python::str_of(other),
    }
}

/// Nodepool's age format `DD:HH:MM:SS` of the time since `timestamp` (Python's float `divmod`
/// and `%02d`, so a time in the future shows negative days as Nodepool does).
pub fn age(timestamp: f64, now: f64) -> String {
    let dt = now - timestamp;
    let (m, s) = divmod(dt, 60.0);
    let (h, m) = divmod(m, 60.0);
    let (d, h) = divmod(h, 24.0);
    format!("{:02}:{:02}:{:02}:{:02}", d.trunc() as i64, h.trunc() as i64, m.trunc() as i64, s.trunc() as i64)
}

fn divmod(a: f64, b: f64) -> (f64, f64) {
    let r = a.rem_euclid(b);
    ((a - r) / b, r)
}

const NODE_HEADERS: &[(&str, &str)] = &[
    ("id", "ID"),
    ("provider", "Provider"),
    ("label", "Label"),
    ("server_id", "Server ID"),
    ("public_ipv4", "Public IPv4"),
    ("ipv6", "IPv6"),
    ("state", "State"),
    ("age", "Age"),
    ("locked", "Locked"),
    ("pool", "Pool"),
    ("hostname", "Hostname"),
    ("private_ipv4", "Private IPv4"),
    ("AZ", "AZ"),
    ("username", "Username"),
    ("connection_port", "Port"),
    ("launcher", "Launcher"),
    ("allocated_to", "Allocated To"),
    ("hold_job", "Hold Job"),
    ("comment", "Comment"),
    ("user_data", "User Data"),
    ("driver_data", "Driver Data"),
];

/// The columns `nodepool list` shows without `--detail`.
pub const NODE_LIST_FIELDS: &[&str] =
    &["id", "provider", "label", "server_id", "public_ipv4", "ipv6", "state", "age", "locked"];

/// `status.node_list`: every node (or only `node_id`), ordered by id. A connection port that is
/// not a number (a Kubernetes node's credentials) shows as `redacted`.
pub async fn node_list(store: &Store, node_id: Option<&str>) -> Result<Table, ZkError> {
    let nodes = match node_id {
        Some(id) => store.get_node(id).await?.into_iter().collect(),
        None => store.list_nodes().await?,
    };
    let mut table = Table::new(NODE_HEADERS);
    let now = now();
    for node in nodes {
        let locked = store.node_is_locked(&node.id).await?;
        let n = node.value;
        let text = |value: Option<String>| value.map_or(Value::Null, Value::String);
        let port = if python_int(&n.connection_port) { n.connection_port.clone() } else { Value::from("redacted") };
        table.rows.push(vec![
            Value::String(node.id),
            text(n.provider),
            Value::from(n.node_type),
            text(n.external_id),
            text(n.public_ipv4),
            text(n.public_ipv6),
            Value::from(n.state.as_str()),
            Value::from(age(n.state_time.unwrap_or(now), now)),
            Value::from(if locked { "locked" } else { "unlocked" }),
            text(n.pool),
            text(n.hostname),
            text(n.private_ipv4),
            text(n.az),
            text(n.username),
            port,
            text(n.launcher),
            text(n.allocated_to),
            text(n.hold_job),
            text(n.comment),
            n.user_data.unwrap_or(Value::Null),
            n.driver_data.unwrap_or(Value::Null),
        ]);
    }
    table.rows.sort_by(|a, b| a[0].as_str().cmp(&b[0].as_str()));
    Ok(table)
}

/// Whether Python's `int(value)` accepts it (a number, or a string of an integer).
fn python_int(value: &Value) -> bool {
    match value {
        Value::Number(_) | Value::Bool(_) => true,
        Value::String(s) => {
            let s = s.trim().replace('_', "");
            let digits = s.strip_prefix(['+', '-']).unwrap_or(&s);
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

const REQUEST_HEADERS: &[(&str, &str)] = &[
    ("id", "Request ID"),
    ("relative_priority", "Priority"),
    ("state", "State"),
    ("requestor", "Requestor"),
    ("node_types", "Node Types"),
    ("nodes", "Nodes"),
    ("declined_by", "Declined By"),
    ("event_id", "Event ID"),
];

/// `status.request_list`: every request, in the order launchers take them.
pub async fn request_list(store: &Store) -> Result<Table, ZkError> {
    let mut table = Table::new(REQUEST_HEADERS);
    for request in store.list_requests().await? {
        let r = request.value;
        table.rows.push(vec![
            Value::String(request.id),
            Value::from(r.relative_priority),
            Value::from(r.state.as_str()),
            r.requestor.map_or(Value::Null, Value::String),
            Value::from(r.node_types),
            Value::from(r.nodes),
            Value::from(r.declined_by),
            r.event_id.map_or(Value::Null, Value::String),
        ]);
    }
    Ok(table)
}

/// `status.label_list`: the labels any registered pool supports, sorted (Nodepool's order is a
/// Python set's).
pub async fn label_list(store: &Store) -> Result<Table, ZkError> {
    let mut labels = std::collections::BTreeSet::new();
    for pool in store.list_pool_components().await? {
        labels.extend(pool.value.supported_labels);
    }
    let mut table = Table::new(&[("label", "Label")]);
    table.rows = labels.into_iter().map(|label| vec![Value::String(label)]).collect();
    Ok(table)
}

/// `status.image_list`: Kubernetes drivers upload no images, so it is always empty.
pub fn image_list() -> Table {
    Table::new(&[
        ("id", "Build ID"),
        ("upload_id", "Upload ID"),
        ("provider", "Provider"),
        ("image", "Image"),
        ("external_name", "Provider Image Name"),
        ("external_id", "Provider Image ID"),
        ("state", "State"),
        ("age", "Age"),
    ])
}

/// `status.dib_image_list`: no diskimage builds (kubepool has no builder).
pub fn dib_image_list() -> Table {
    Table::new(&[
        ("id", "ID"),
        ("image", "Image"),
        ("builder", "Builder"),
        ("formats", "Formats"),
        ("state", "State"),
        ("age", "Age"),
    ])
}

/// `status.image_status`: no images.
pub fn image_status() -> Table {
    Table::new(&[
        ("image", "Image"),
        ("paused", "Paused"),
        ("build_request", "Build Request"),
        ("build_request_age", "Build Request Age"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ages_as_nodepool() {
        assert_eq!(age(1000.0, 1000.0), "00:00:00:00");
        assert_eq!(age(0.0, 90061.9), "01:01:01:01");
        assert_eq!(age(0.0, 100.0 * 86400.0), "100:00:00:00");
        assert_eq!(age(10.5, 10.0), "-1:23:59:59");
    }

    #[test]
    fn python_int_accepts_what_int_does() {
        assert!(python_int(&json!(22)));
        assert!(python_int(&json!(" 22 ")));
        assert!(!python_int(&json!({"token": "x"})));
        assert!(!python_int(&json!(null)));
        assert!(!python_int(&json!("abc")));
    }

    #[test]
    fn output_as_status_output() {
        let table = Table {
            headers: vec![("id", "ID"), ("nodes", "Nodes"), ("event_id", "Event ID")],
            rows: vec![vec![json!("100-0000000001"), json!(["0000000001", "0000000002"]), Value::Null]],
        };
        assert_eq!(
            table.output(Format::Json, None),
            r#"[{"id": "100-0000000001", "nodes": ["0000000001", "0000000002"], "event_id": null}]"#
        );
        assert_eq!(
            table.output(Format::Pretty, Some(&["id", "nodes"])),
            "+----------------+-----------------------+\n\
             | ID             | Nodes                 |\n\
             +----------------+-----------------------+\n\
             | 100-0000000001 | 0000000001,0000000002 |\n\
             +----------------+-----------------------+"
        );
    }
}
