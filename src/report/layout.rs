//! The timeline's layout, shared by the static HTML report (SVG drawn here) and the web
//! view (drawn by the page from the same numbers): a time axis that compresses idle gaps
//! into marked breaks, so a slow sign-in does not squeeze every later event into the
//! last few percent; marks kept apart (at least [`MIN_DX`] pixels between neighbours);
//! one lane per token from issue to expiry.

use serde::Serialize;

use crate::oauth::timeline::{Event, FlowState, TokenKind};

/// Horizontal distance between two neighbouring marks, at least (a mark is 8 px wide).
pub const MIN_DX: f64 = 11.0;
/// Width of a compressed gap.
pub const BREAK_W: f64 = 26.0;
/// Left and right margins.
pub const MARGIN: f64 = 20.0;

/// Which row an event is drawn in.
pub fn row_of(step: &str) -> &'static str {
    match step {
        "authorize" | "callback" => "sign-in",
        s if s.starts_with("token") || s == "revocation" || s == "introspection" => "token",
        "api" | "userinfo" => "api",
        _ => "other",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Mark {
    pub id: u64,
    pub x: f64,
    pub row: &'static str,
    pub step: &'static str,
    pub status: Option<u16>,
    /// Seconds since the first exchange.
    pub t: f64,
    pub failed: bool,
    pub findings: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Lane {
    pub fp: String,
    pub kind: &'static str,
    pub issued_by: u64,
    pub x0: f64,
    /// Expiry (or the capture's end when the lifetime is unknown: `open`).
    pub x1: f64,
    pub open: bool,
    pub lifetime_s: Option<f64>,
    /// Where it was replaced by a newer token, or revoked.
    pub superseded_x: Option<f64>,
    pub revoked_x: Option<f64>,
    pub first_401: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Break {
    pub x: f64,
    /// Idle seconds it stands for.
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub x: f64,
    pub label: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Layout {
    pub width: f64,
    pub marks: Vec<Mark>,
    pub lanes: Vec<Lane>,
    pub breaks: Vec<Break>,
    pub ticks: Vec<Tick>,
    /// The first failed exchange (status ≥ 400 or no answer).
    pub first_failure: Option<u64>,
    /// Events left out (past `max_marks`, plain API calls that succeeded).
    pub omitted: usize,
}

/// A piecewise-linear time axis with compressed gaps.
struct Axis {
    /// (t, x) knots, t ascending.
    knots: Vec<(f64, f64)>,
}

impl Axis {
    fn x(&self, t: f64) -> f64 {
        let k = &self.knots;
        match k.iter().position(|(kt, _)| *kt >= t) {
            None => k.last().map_or(MARGIN, |l| l.1),
            Some(0) => k[0].1,
            Some(i) => {
                let (t0, x0) = k[i - 1];
                let (t1, x1) = k[i];
                if t1 - t0 <= f64::EPSILON {
                    x1
                } else {
                    x0 + (t - t0) / (t1 - t0) * (x1 - x0)
                }
            }
        }
    }
}

/// Lay out `events` and the tokens of `state` for a drawing about `width` pixels wide
/// (wider when the marks need it). At most `max_marks` events are drawn: past it,
/// successful plain API calls are left out first.
pub fn layout(events: &[Event], state: &FlowState, width: f64, max_marks: usize) -> Layout {
    let t0 = state.t0.unwrap_or(0.0);
    let first_failure = events
        .iter()
        .find(|e| e.status.is_none_or(|s| s >= 400))
        .map(|e| e.id);
    let mut chosen: Vec<&Event> = events.iter().collect();
    let mut omitted = 0;
    if chosen.len() > max_marks {
        let before = chosen.len();
        chosen.retain(|e| {
            row_of(e.step) != "api"
                || e.status.is_none_or(|s| s >= 400)
                || !e.findings.is_empty()
                || Some(e.id) == first_failure
        });
        chosen.truncate(max_marks);
        omitted = before - chosen.len();
    }
    // Every time the drawing must place: events, token issue and expiry.
    let mut times: Vec<f64> = chosen.iter().map(|e| e.t).collect();
    for tok in state.tokens.values() {
        times.push(tok.issued_at - t0);
        if let Some(e) = tok.expires_at {
            times.push(e - t0);
        }
    }
    times.retain(|t| t.is_finite());
    times.sort_by(f64::total_cmp);
    times.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return Layout {
            width,
            omitted,
            first_failure,
            ..Layout::default()
        };
    };
    let span = (last - first).max(1e-3);
    // A gap is idle when it is long on its own and against the whole.
    let threshold = (span * 0.08).max(5.0);
    let gaps: Vec<(f64, f64)> = times
        .windows(2)
        .filter(|w| w[1] - w[0] > threshold)
        .map(|w| (w[0], w[1]))
        .collect();
    let kept = span - gaps.iter().map(|(a, b)| b - a).sum::<f64>();
    let drawable = (width - 2.0 * MARGIN - BREAK_W * gaps.len() as f64).max(100.0);
    let scale = if kept > 1e-9 { drawable / kept } else { 0.0 };
    let mut knots = vec![(first, MARGIN)];
    let mut breaks = Vec::new();
    let mut x = MARGIN;
    let mut t = first;
    for (a, b) in &gaps {
        x += (a - t) * scale;
        knots.push((*a, x));
        breaks.push(Break {
            x: x + BREAK_W / 2.0,
            seconds: b - a,
        });
        x += BREAK_W;
        knots.push((*b, x));
        t = *b;
    }
    x += (last - t) * scale;
    knots.push((last, x));
    let axis = Axis { knots };
    // Marks in time order, pushed apart where they would touch; each later time shifts
    // by as much as the last mark before it.
    let mut order: Vec<&Event> = chosen;
    order.sort_by(|a, b| a.t.total_cmp(&b.t).then(a.id.cmp(&b.id)));
    let mut marks: Vec<Mark> = Vec::with_capacity(order.len());
    let mut shifts: Vec<(f64, f64)> = Vec::with_capacity(order.len());
    let mut prev: Option<f64> = None;
    for e in order {
        let base = axis.x(e.t);
        let x = match prev {
            Some(p) => base.max(p + MIN_DX),
            None => base,
        };
        prev = Some(x);
        shifts.push((e.t, x - base));
        marks.push(Mark {
            id: e.id,
            x,
            row: row_of(e.step),
            step: e.step,
            status: e.status,
            t: e.t,
            failed: e.status.is_none_or(|s| s >= 400),
            findings: e.findings.clone(),
        });
    }
    let at = |t: f64| {
        let i = shifts.partition_point(|(st, _)| *st <= t);
        let shift = if i == 0 { 0.0 } else { shifts[i - 1].1 };
        axis.x(t) + shift
    };
    for b in breaks.iter_mut() {
        // A break sits between two marks: shift it with the marks before it.
        let t_before = axis
            .knots
            .iter()
            .rev()
            .find(|(_, kx)| *kx < b.x)
            .map_or(first, |k| k.0);
        b.x = at(t_before) + BREAK_W / 2.0;
    }
    let end = at(last).max(marks.last().map_or(MARGIN, |m| m.x));
    let mut lanes: Vec<Lane> = state
        .tokens
        .values()
        .map(|tok| {
            let x0 = at(tok.issued_at - t0);
            let (x1, open) = match tok.expires_at {
                Some(e) => (at(e - t0), false),
                None => (end, true),
            };
            Lane {
                fp: tok.fp.clone(),
                kind: match tok.kind {
                    TokenKind::Access => "access",
                    TokenKind::Refresh => "refresh",
                },
                issued_by: tok.issued_by,
                x0,
                x1: x1.max(x0 + 2.0),
                open,
                lifetime_s: tok.lifetime,
                superseded_x: tok.superseded_at.map(|s| at(s - t0)),
                revoked_x: tok.revoked_at.map(|s| at(s - t0)),
                first_401: tok.first_401.map(|(id, _)| id),
            }
        })
        .collect();
    lanes.sort_by(|a, b| a.x0.total_cmp(&b.x0).then(a.kind.cmp(b.kind)));
    let mut ticks = vec![Tick {
        x: MARGIN,
        label: "0 s".into(),
    }];
    for (a, b) in &gaps {
        let _ = a;
        ticks.push(Tick {
            x: at(*b),
            label: format!("+{}", crate::oauth::display::human_duration(*b - first)),
        });
    }
    ticks.push(Tick {
        x: end,
        label: format!("+{}", crate::oauth::display::human_duration(last - first)),
    });
    Layout {
        width: (end + MARGIN).max(width),
        marks,
        lanes,
        breaks,
        ticks,
        first_failure,
        omitted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: u64, t: f64, step: &'static str, status: u16) -> Event {
        Event {
            id,
            t,
            step,
            method: "GET".into(),
            url: String::new(),
            status: Some(status),
            facts: Vec::new(),
            findings: Vec::new(),
        }
    }

    #[test]
    fn idle_gaps_are_compressed_and_marks_never_touch() {
        let mut state = FlowState::default();
        state.t0 = Some(0.0);
        // A 40 s sign-in, then a burst of calls within one second.
        let mut events = vec![ev(1, 0.0, "authorize", 302), ev(2, 40.0, "callback", 200)];
        for i in 0..20 {
            events.push(ev(3 + i, 40.2 + i as f64 * 0.01, "api", 200));
        }
        let l = layout(&events, &state, 1000.0, 10_000);
        assert_eq!(l.breaks.len(), 1, "{:?}", l.breaks);
        assert!((l.breaks[0].seconds - 40.0).abs() < 1e-6);
        let mut xs: Vec<f64> = l.marks.iter().map(|m| m.x).collect();
        xs.sort_by(f64::total_cmp);
        assert!(
            xs.windows(2).all(|w| w[1] - w[0] >= MIN_DX - 1e-9),
            "{xs:?}"
        );
        // The burst is spread over a good part of the drawing, not squeezed at its edge.
        assert!(xs[xs.len() - 1] - xs[2] > 300.0, "{xs:?}");
    }

    #[test]
    fn past_the_limit_plain_successes_are_left_out_first() {
        let mut state = FlowState::default();
        state.t0 = Some(0.0);
        let mut events: Vec<Event> = (1..=100).map(|i| ev(i, i as f64, "api", 200)).collect();
        events.push(ev(101, 101.0, "api", 401));
        let l = layout(&events, &state, 1000.0, 10);
        assert_eq!(l.marks.len(), 1);
        assert_eq!(l.marks[0].id, 101);
        assert_eq!(l.omitted, 100);
        assert_eq!(l.first_failure, Some(101));
    }
}
