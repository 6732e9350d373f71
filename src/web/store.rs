//! What the web view shows, kept as exchanges arrive (live) or read once (a file): one
//! small row per exchange, the analysis, and the way back to each exchange's full record
//! (its line in the capture file, or the most recent ones in memory when live).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{BufRead, Read, Seek};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};

use crate::analyze::{Analysis, Engine, Finding};
use crate::capture::Exchange;
use crate::capture::writer::Observer;
use crate::oauth::timeline::unix_seconds;

/// Full records kept in memory by a live view (older ones are in the capture file).
const LIVE_KEPT: usize = 5_000;

/// One line of the exchange list.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: u64,
    /// Seconds since the first exchange.
    pub t: f64,
    pub started: String,
    pub method: String,
    /// Secrets masked.
    pub url: String,
    pub host: String,
    pub status: Option<u16>,
    pub step: &'static str,
    pub error: Option<&'static str>,
    pub ms: Option<f64>,
    pub size: u64,
}

/// How to get an exchange's full record back.
enum Records {
    /// The most recent ones (live).
    Recent(VecDeque<Exchange>),
    /// Byte offset of each record's line in a capture file, by exchange id.
    File(PathBuf, HashMap<u64, u64>),
    /// All of them (a HAR file, read whole).
    All(Vec<Exchange>),
}

/// Everything the page asks for.
pub struct View {
    pub rows: Vec<Row>,
    pub hosts: BTreeSet<String>,
    pub steps: BTreeSet<&'static str>,
    records: Records,
    /// Live: the engine still running; a file: its finished analysis.
    engine: Option<Engine>,
    analysis: Option<Analysis>,
    live_findings: Vec<Finding>,
    t0: Option<f64>,
    subscribers: Vec<tokio::sync::mpsc::Sender<Bytes>>,
    /// Changes when the process restarts (the page then reloads everything).
    pub run_id: String,
    pub live: bool,
    pub title: String,
}

impl View {
    /// An empty live view; exchanges come through [`WebObserver`].
    pub fn live(salt: &str, connector: Option<crate::connector::Connector>, title: &str) -> Self {
        let mut engine = Engine::new(salt, true);
        if let Some(c) = connector {
            engine.add_analyzer(Box::new(crate::connector::analyzer::ConnectorCheck {
                connector: c,
            }));
        }
        View {
            rows: Vec::new(),
            hosts: BTreeSet::new(),
            steps: BTreeSet::new(),
            records: Records::Recent(VecDeque::new()),
            engine: Some(engine),
            analysis: None,
            live_findings: Vec::new(),
            t0: None,
            subscribers: Vec::new(),
            run_id: crate::capture::redact::random_salt(),
            live: true,
            title: title.to_string(),
        }
    }

    /// A view of a capture or HAR file, read once (with `tick` called per exchange).
    pub fn open(
        path: &std::path::Path,
        connector: Option<crate::connector::Connector>,
        warn: &mut dyn FnMut(String),
        tick: &mut dyn FnMut(),
    ) -> anyhow::Result<Self> {
        let source = crate::capture::source::Source::open(path)?;
        let mut view = View::live(&source.salt, connector, &path.display().to_string());
        view.live = false;
        let is_capture = matches!(source.kind, crate::capture::source::SourceKind::Capture);
        let offsets = if is_capture {
            Some(line_offsets(path)?)
        } else {
            None
        };
        let mut all = Vec::new();
        source.run(warn, |ex| {
            view.push(&ex);
            if !is_capture {
                all.push(ex);
            }
            tick();
        })?;
        view.records = match offsets {
            Some(o) => Records::File(path.to_path_buf(), o),
            None => Records::All(all),
        };
        view.analysis = view.engine.take().map(Engine::finish);
        Ok(view)
    }

    /// Take one exchange in; returns the SSE messages to send.
    fn push(&mut self, ex: &Exchange) -> Vec<String> {
        let Some(engine) = self.engine.as_mut() else {
            return Vec::new();
        };
        let step = engine.push(ex);
        let new = engine.take_new();
        let at = unix_seconds(&ex.started);
        if self.t0.is_none() {
            self.t0 = at;
        }
        let host = crate::wire::url_host(&ex.request.url);
        let row = Row {
            id: ex.id,
            t: at.zip(self.t0).map_or(0.0, |(a, t0)| a - t0),
            started: ex.started.clone(),
            method: ex.request.method.clone(),
            url: crate::capture::redact::redact_url(&engine.flow.fpr, &ex.request.url),
            host: host.clone(),
            status: ex.response.as_ref().map(|r| r.status),
            step: step.name(),
            error: ex.error.as_ref().map(|e| e.kind.name()),
            ms: ex.timings.end,
            size: ex.response.as_ref().map_or(0, |r| r.body.size),
        };
        self.hosts.insert(host);
        self.steps.insert(row.step);
        let mut out = vec![format!(
            "event: exchange\ndata: {}\n\n",
            serde_json::to_string(&row).unwrap_or_default()
        )];
        if !new.is_empty() {
            self.live_findings.extend(new);
            out.push(format!(
                "event: findings\ndata: {}\n\n",
                self.live_findings.len()
            ));
        }
        self.rows.push(row);
        if let Records::Recent(q) = &mut self.records {
            q.push_back(ex.clone());
            if q.len() > LIVE_KEPT {
                q.pop_front();
            }
        }
        out
    }

    /// Add a subscriber to the live events; the first message names this run.
    pub fn subscribe(&mut self) -> tokio::sync::mpsc::Receiver<Bytes> {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let _ = tx.try_send(Bytes::from(format!(
            "event: hello\ndata: {}\n\n",
            json!({"run": self.run_id, "exchanges": self.rows.len()})
        )));
        self.subscribers.push(tx);
        rx
    }

    fn broadcast(&mut self, messages: Vec<String>) {
        for m in messages {
            let b = Bytes::from(m);
            // A subscriber that cannot keep up or went away is dropped (it reconnects).
            self.subscribers.retain(|s| s.try_send(b.clone()).is_ok());
        }
    }

    /// The findings, worst first, causes linked to their consequences.
    fn findings(&self) -> Vec<Finding> {
        match &self.analysis {
            Some(a) => a.findings.clone(),
            None => {
                let mut list = self.live_findings.clone();
                crate::analyze::diagnosis::link(&mut list);
                crate::analyze::diagnosis::order(list)
            }
        }
    }

    fn state(&self) -> Option<&crate::oauth::timeline::FlowState> {
        match (&self.analysis, &self.engine) {
            (Some(a), _) => Some(a.state()),
            (None, Some(e)) => Some(&e.flow.state),
            _ => None,
        }
    }

    fn flow(&self) -> Option<&crate::oauth::Flow> {
        match (&self.analysis, &self.engine) {
            (Some(a), _) => Some(&a.flow),
            (None, Some(e)) => Some(&e.flow),
            _ => None,
        }
    }

    /// `/api/summary`
    pub fn summary(&self, reveal_allowed: bool) -> Value {
        let findings = self.findings();
        let (verdict, cause) = match self.state() {
            Some(s) => crate::report::diagnose(&findings, s),
            None => (String::new(), None),
        };
        json!({
            "title": self.title,
            "verdict": verdict,
            "cause": cause,
            "findings": findings,
            "exchanges": self.rows.len(),
            "live": self.live,
            "run": self.run_id,
            "reveal_allowed": reveal_allowed,
        })
    }

    /// `/api/rows`: a window of the list after the filters.
    pub fn rows(&self, q: &Query) -> Value {
        let text = q.text.to_ascii_lowercase();
        let matches = |r: &&Row| {
            (q.host.is_empty() || r.host == q.host)
                && (q.step.is_empty() || r.step == q.step)
                && (q.status.is_empty() || status_class(r) == q.status)
                && (text.is_empty()
                    || r.url.to_ascii_lowercase().contains(&text)
                    || r.method.to_ascii_lowercase().contains(&text)
                    || r.step.contains(&text)
                    || r.status.is_some_and(|s| s.to_string() == text))
        };
        let filtered =
            q.host.is_empty() && q.step.is_empty() && q.status.is_empty() && text.is_empty();
        let (total, window): (usize, Vec<&Row>) = if filtered {
            let end = (q.offset + q.limit).min(self.rows.len());
            let start = q.offset.min(end);
            (self.rows.len(), self.rows[start..end].iter().collect())
        } else {
            let all: Vec<&Row> = self.rows.iter().filter(matches).collect();
            let total = all.len();
            (
                total,
                all.into_iter().skip(q.offset).take(q.limit).collect(),
            )
        };
        json!({
            "total": total,
            "offset": q.offset,
            "rows": window,
            "hosts": self.hosts,
            "steps": self.steps,
        })
    }

    /// `/api/timeline`
    pub fn timeline(&self, width: f64) -> Value {
        let events: &[crate::oauth::timeline::Event] = self
            .flow()
            .and_then(|f| f.events.as_deref())
            .unwrap_or_default();
        match self.state() {
            Some(s) => serde_json::to_value(crate::report::layout::layout(events, s, width, 4_000))
                .unwrap_or(Value::Null),
            None => Value::Null,
        }
    }

    /// `/api/exchange`: one exchange in detail (`None`: no such id, or no longer kept).
    pub fn exchange(&self, id: u64, reveal: bool) -> Option<Value> {
        let row = self.rows.iter().position(|r| r.id == id)?;
        let ex = match &self.records {
            Records::Recent(q) => q.iter().find(|e| e.id == id).cloned()?,
            Records::All(v) => v.iter().find(|e| e.id == id).cloned()?,
            Records::File(path, offsets) => read_at(path, *offsets.get(&id)?)?,
        };
        let flow = self.flow()?;
        let cx = super::detail::Context {
            state: &flow.state,
            fpr: &flow.fpr,
            known: &flow.known,
            step: self.rows[row].step,
            reveal,
        };
        Some(super::detail::detail(&ex, &cx))
    }
}

fn status_class(r: &Row) -> String {
    match (r.status, r.error) {
        (_, Some(_)) | (None, _) => "error".into(),
        (Some(s), None) => format!("{}xx", s / 100),
    }
}

/// The list's filters and window.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pub offset: usize,
    pub limit: usize,
    pub host: String,
    pub step: String,
    pub status: String,
    pub text: String,
}

/// Where each record's line starts, by exchange id. Only the id is read from each line
/// (the rest is skipped without being built); `read_at` parses the one asked for.
fn line_offsets(path: &std::path::Path) -> anyhow::Result<HashMap<u64, u64>> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: u64,
    }
    let file = std::fs::File::open(path)?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let mut offsets = HashMap::new();
    let mut pos = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if let Ok(rec) = serde_json::from_slice::<IdOnly>(&line) {
            offsets.entry(rec.id).or_insert(pos);
        }
        pos += n as u64;
    }
    Ok(offsets)
}

fn read_at(path: &std::path::Path, offset: u64) -> Option<Exchange> {
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(std::io::SeekFrom::Start(offset)).ok()?;
    let mut r = std::io::BufReader::new(f.take(1 << 30));
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).ok()?;
    serde_json::from_slice(&line).ok()
}

/// Feeds a live view from the capture writer's observer thread.
pub struct WebObserver(pub Arc<Mutex<View>>);

impl Observer for WebObserver {
    fn on_exchange(&mut self, exchange: &Exchange) {
        if let Ok(mut v) = self.0.lock() {
            let messages = v.push(exchange);
            v.broadcast(messages);
        }
    }
}
