'use strict';
// oauthscope web view. Everything captured is shown through textContent (never as
// markup), so values carrying HTML or script stay text.

window.__errors = [];
window.addEventListener('error', (e) => window.__errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason)));

const TOKEN = new URLSearchParams(location.search).get('token') || '';
const ROW_H = 24;
const SVG_NS = 'http://www.w3.org/2000/svg';
const state = { total: 0, selected: null, run: null, reveal: false, revealAllowed: false, zoom: 1, pan: 0, width: 1000 };

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function sv(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function api(path, params) {
  const q = new URLSearchParams(params || {});
  if (TOKEN) q.set('token', TOKEN);
  const r = await fetch(path + '?' + q.toString());
  if (!r.ok) throw new Error(path + ': ' + r.status + ' ' + (await r.text()));
  return r.json();
}

// A function that runs `f` at most once per `ms`, the last call always honoured.
function throttle(f, ms) {
  let timer = null, again = false;
  return function () {
    if (timer) { again = true; return; }
    f();
    timer = setTimeout(() => { timer = null; if (again) { again = false; f(); } }, ms);
  };
}

// ---- verdict and findings -------------------------------------------------------

function evidence(ids) {
  const span = el('span', { class: 'evidence' }, 'evidence:');
  for (const id of ids) span.append(' ', el('button', { class: 'link', type: 'button', onclick: () => select(id) }, '#' + id));
  return span;
}

function findingItem(f) {
  const li = el('li', { 'data-rule': f.rule },
    el('span', { class: 'sev ' + f.severity }, f.severity),
    el('span', { class: 'rule' }, f.rule),
    f.title,
    f.step ? el('span', { class: 'hint' }, ' (checklist step ' + f.step + ')') : null,
    evidence(f.exchanges));
  li.title = f.detail + '\nFix: ' + f.fix;
  return li;
}

async function loadSummary() {
  const s = await api('/api/summary');
  state.revealAllowed = s.reveal_allowed;
  $('reveal').hidden = !s.reveal_allowed || state.selected === null;
  $('title').textContent = s.title ? '— ' + s.title : '';
  $('live').hidden = !s.live;
  const v = $('verdict');
  v.textContent = s.verdict;
  v.classList.toggle('bad', s.findings.length > 0);
  $('finding-count').textContent = '(' + s.findings.length + ')';
  const list = $('findings');
  list.replaceChildren();
  // Causes first, each with the symptoms it explains folded under it.
  const byCause = new Map();
  for (const f of s.findings) if (f.caused_by) {
    if (!byCause.has(f.caused_by)) byCause.set(f.caused_by, []);
    byCause.get(f.caused_by).push(f);
  }
  const shown = new Set();
  const top = s.findings.filter((f) => f.role === 'cause').concat(s.findings.filter((f) => f.role !== 'cause' && !f.caused_by));
  for (const f of top) {
    const li = findingItem(f);
    const under = byCause.get(f.rule) || [];
    if (under.length) {
      const ul = el('ul');
      for (const c of under) { ul.append(el('li', {}, 'led to: ', findingItem(c))); shown.add(c); }
      li.append(ul);
    }
    list.append(li);
    shown.add(f);
  }
  for (const f of s.findings) if (!shown.has(f)) list.append(findingItem(f));
  return s;
}

// ---- timeline ------------------------------------------------------------------

const ROWS = { 'sign-in': 18, token: 40, api: 62, other: 84 };
const ROW_NAMES = [['sign-in', 'sign-in'], ['token', 'token requests'], ['api', 'API calls'], ['other', 'other']];

function markClass(m, firstFailure) {
  let c = 'mark ' + (m.failed ? 'failed' : (m.status >= 300 && m.status < 400 ? 'redirect' : 'ok'));
  if (m.id === firstFailure) c += ' first-failure';
  if (m.id === state.selected) c += ' selected';
  return c;
}

let layoutCache = null;

async function loadTimeline() {
  const box = $('timeline');
  state.width = Math.max(600, box.clientWidth || 1000);
  layoutCache = await api('/api/timeline', { width: state.width });
  drawTimeline();
}

function drawTimeline() {
  const l = layoutCache;
  const box = $('timeline');
  if (!l || !l.marks) { box.replaceChildren(); return; }
  const laneTop = 108;
  const height = laneTop + Math.max(1, l.lanes.length) * 14 + 28;
  const svg = sv('svg', { width: state.width, height: height, id: 'timeline-svg' });
  const g = sv('g');
  // Layout pixels at zoom 1 (marks apart); zoom spreads or gathers them, marks keep
  // their size.
  const X = (x) => (x - state.pan) * state.zoom;
  for (const [row, name] of ROW_NAMES) g.append(sv('text', { x: 2, y: ROWS[row] - 6 }, name));
  for (const b of l.breaks) {
    g.append(sv('line', { class: 'brk', x1: X(b.x), x2: X(b.x), y1: 4, y2: height - 20 }));
    const t = sv('text', { x: X(b.x) + 3, y: height - 16 }, '⋯ ' + human(b.seconds) + ' idle');
    g.append(t);
  }
  l.lanes.forEach((lane, i) => {
    const y = laneTop + i * 14;
    const r = sv('rect', { class: 'lane ' + lane.kind + (lane.open ? ' open' : ''), x: X(lane.x0), y: y, width: Math.max(2, X(lane.x1) - X(lane.x0)), height: 10, 'data-fp': lane.fp });
    r.append(sv('title', {}, lane.kind + ' token ' + lane.fp + ', issued by #' + lane.issued_by + (lane.lifetime_s ? ', lives ' + human(lane.lifetime_s) : ', lifetime unknown') + (lane.first_401 ? ', first 401 at #' + lane.first_401 : '')));
    g.append(r);
    if (lane.superseded_x !== null && lane.superseded_x !== undefined) g.append(sv('line', { x1: X(lane.superseded_x), x2: X(lane.superseded_x), y1: y - 1, y2: y + 11, stroke: '#333' }));
  });
  for (const m of l.marks) {
    const y = ROWS[m.row] || ROWS.other;
    const r = sv('rect', { class: markClass(m, l.first_failure), x: X(m.x) - 4, y: y - 4, width: 8, height: 8, 'data-id': m.id, 'data-row': m.row });
    r.append(sv('title', {}, '#' + m.id + ' ' + m.step + ' ' + (m.status || 'no answer') + ' at +' + human(m.t) + (m.findings.length ? '\nfindings: ' + m.findings.join(', ') : '')));
    r.addEventListener('click', () => select(m.id));
    g.append(r);
    if (m.findings.length) g.append(sv('path', { class: 'flag', d: 'M' + (X(m.x) - 3) + ' ' + (y - 7) + ' l3 -5 l3 5 z' }));
  }
  l.ticks.forEach((t, i) => {
    const last = i === l.ticks.length - 1;
    g.append(sv('text', { x: X(t.x), y: height - 2, 'text-anchor': last ? 'end' : (i === 0 ? 'start' : 'middle') }, t.label));
  });
  svg.append(g);
  box.replaceChildren(svg);
  if (l.omitted) box.append(el('p', { class: 'hint' }, l.omitted + ' successful API calls are not drawn (the list has every exchange).'));
}

function setupTimelineInteraction() {
  const box = $('timeline');
  const minZoom = () => Math.min(1, box.clientWidth / layoutCache.width);
  const clampPan = () => {
    const viewW = box.clientWidth / state.zoom;
    state.pan = Math.max(0, Math.min(Math.max(0, layoutCache.width - viewW), state.pan));
  };
  box.addEventListener('wheel', (e) => {
    if (!layoutCache) return;
    e.preventDefault();
    const rect = box.getBoundingClientRect();
    const px = e.clientX - rect.left;
    const at = state.pan + px / state.zoom;
    state.zoom = Math.min(200, Math.max(minZoom(), state.zoom * (e.deltaY < 0 ? 1.25 : 0.8)));
    state.pan = at - px / state.zoom;
    clampPan();
    drawTimeline();
  }, { passive: false });
  let drag = null;
  box.addEventListener('mousedown', (e) => { drag = { x: e.clientX, pan: state.pan }; });
  window.addEventListener('mouseup', () => { drag = null; });
  window.addEventListener('mousemove', (e) => {
    if (!drag || !layoutCache) return;
    state.pan = drag.pan - (e.clientX - drag.x) / state.zoom;
    clampPan();
    drawTimeline();
  });
  box.addEventListener('dblclick', () => { state.zoom = 1; state.pan = 0; drawTimeline(); });
  const legend = $('legend');
  for (const [cls, text] of [['ok', 'answered 1xx/2xx'], ['redirect', 'redirect (3xx)'], ['failed', 'failed (4xx/5xx or no answer)'], ['lane-a', 'access token, issue → expiry'], ['lane-r', 'refresh token'], ['flag', 'a finding cites it'], ['ff', 'first failure (thick outline)']]) {
    const colors = { ok: '#2a9d5c', redirect: '#6a8', failed: '#d33', 'lane-a': '#cfe3f7', 'lane-r': '#e8dcf5', flag: '#d80', ff: '#fff' };
    const sw = el('span', { class: 'sw' });
    sw.style.background = colors[cls];
    legend.append(el('li', {}, sw, text));
  }
}

function human(s) {
  if (s < 10) return (Math.round(s * 10) / 10) + ' s';
  s = Math.round(s);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min' + (s % 60 ? ' ' + (s % 60) + ' s' : '');
  const m = Math.round((s % 3600) / 60);
  return Math.floor(s / 3600) + ' h' + (m ? ' ' + m + ' min' : '');
}

// ---- exchange list (windowed) ----------------------------------------------------

function filters() {
  return { q: $('filter-text').value, host: $('filter-host').value, step: $('filter-step').value, status: $('filter-status').value };
}

function fillSelect(sel, values) {
  const current = sel.value;
  const first = sel.options[0];
  const have = new Set(Array.from(sel.options).map((o) => o.value));
  if (values.every((v) => have.has(v)) && values.length + 1 === sel.options.length) return;
  sel.replaceChildren(first);
  for (const v of values) sel.append(el('option', { value: v }, v));
  sel.value = current;
}

let listSeq = 0;
async function loadRows() {
  const list = $('list');
  const first = Math.max(0, Math.floor(list.scrollTop / ROW_H) - 10);
  const count = Math.ceil((list.clientHeight || 520) / ROW_H) + 20;
  const seq = ++listSeq;
  const r = await api('/api/rows', Object.assign({ offset: first, limit: count }, filters()));
  if (seq !== listSeq) return;
  state.total = r.total;
  $('count').textContent = '(' + r.total.toLocaleString('en') + ')';
  $('spacer').style.height = (r.total * ROW_H) + 'px';
  fillSelect($('filter-host'), r.hosts);
  fillSelect($('filter-step'), r.steps);
  const spacer = $('spacer');
  list.replaceChildren(spacer);
  r.rows.forEach((row, i) => {
    const status = row.error ? row.error : (row.status === null ? '-' : String(row.status));
    const sclass = row.error || row.status === null ? 'serr' : 's' + Math.floor(row.status / 100);
    const div = el('div', { class: 'row' + (row.id === state.selected ? ' selected' : ''), 'data-id': row.id, onclick: () => select(row.id) },
      el('span', {}, '#' + row.id),
      el('span', {}, row.method),
      el('span', { class: sclass }, status),
      el('span', {}, row.step),
      el('span', { class: 'url', title: row.url }, row.url));
    div.style.top = ((r.offset + i) * ROW_H) + 'px';
    list.append(div);
  });
}

// ---- one exchange -----------------------------------------------------------------

function table(rows) {
  const t = el('table');
  for (const [k, v] of rows) t.append(el('tr', {}, el('td', {}, k), el('td', {}, v)));
  return t;
}

function bodyBlock(b) {
  if (!b || b.kind === 'empty') return el('p', { class: 'hint' }, 'no body');
  if (b.kind === 'binary') return el('p', { class: 'hint' }, b.size + ' bytes, not text');
  const note = (b.truncated ? ' (truncated)' : '') + (b.decoded_from ? ' (decoded)' : '');
  return el('div', {}, el('p', { class: 'hint' }, b.kind + ', ' + b.size + ' bytes' + note), el('pre', { class: 'body' }, b.text));
}

async function select(id) {
  state.selected = id;
  $('detail-id').textContent = '#' + id;
  $('reveal').hidden = !state.revealAllowed;
  $('reveal').textContent = state.reveal ? 'Hide secrets' : 'Show secrets';
  for (const r of document.querySelectorAll('.row')) r.classList.toggle('selected', Number(r.dataset.id) === id);
  drawTimeline();
  const box = $('detail');
  let d;
  try {
    d = await api('/api/exchange', { id: id, reveal: state.reveal ? '1' : '0' });
  } catch (e) {
    box.replaceChildren(el('p', { class: 'hint' }, String(e.message)));
    return;
  }
  const parts = [];
  parts.push(el('p', {}, el('strong', {}, d.request.method + ' '), d.request.url));
  parts.push(table([['step', d.step], ['started', d.started], ['status', d.response ? String(d.response.status) : 'no answer'], ['duration', d.duration_ms === null ? '-' : d.duration_ms + ' ms'], ['client', d.client]].concat(d.client_cert ? [['client certificate', 'x5t#S256 ' + d.client_cert.sha256 + (d.client_cert.subject ? ' (' + d.client_cert.subject + ')' : '') + (d.client_cert.forwarded ? ', presented to the server' : ', not presented to the server')]] : [])));
  if (d.error) parts.push(el('h3', {}, 'Error'), table([['kind', d.error.kind], ['message', d.error.message], ['hint', d.error.hint || '']]));
  parts.push(el('h3', {}, 'Request headers'), table(d.request.headers), el('h3', {}, 'Request body'), bodyBlock(d.request.body));
  if (d.response) parts.push(el('h3', {}, 'Response headers'), table(d.response.headers), el('h3', {}, 'Response body'), bodyBlock(d.response.body));
  if (d.jwts.length) {
    parts.push(el('h3', {}, 'Decoded JWTs'));
    for (const j of d.jwts) {
      parts.push(el('div', { class: 'jwt' },
        el('p', {}, j.where + ' (' + j.fp + ')' + (j.expires ? ': exp ' + j.expires + ', ' + (j.expires_relative || '') : '')),
        el('pre', { class: 'jwt-header' }, JSON.stringify(j.header, null, 2)),
        el('pre', { class: 'jwt-claims' }, JSON.stringify(j.claims, null, 2))));
    }
  }
  if (d.tokens.length) {
    parts.push(el('h3', {}, 'Tokens'));
    for (const t of d.tokens) {
      parts.push(table([['where', t.where], ['value', t.value], ['kind', t.kind || 'unknown'], ['issued by', t.issued_by ? '#' + t.issued_by : '-'], ['lifetime', t.lifetime_s ? human(t.lifetime_s) : '-'], ['used', t.uses === null ? '-' : t.uses + ' time(s), ' + t.failures + ' failed'], ['first 401', t.first_401 ? '#' + t.first_401 : '-'], ['replaced by', t.superseded_by || '-']]));
    }
  }
  box.replaceChildren(...parts);
}

// ---- live ----------------------------------------------------------------------------

function connect() {
  const q = TOKEN ? '?token=' + encodeURIComponent(TOKEN) : '';
  const es = new EventSource('/api/events' + q);
  const refreshList = throttle(() => loadRows().catch(report), 250);
  const refreshAll = throttle(() => { loadSummary().catch(report); loadTimeline().catch(report); }, 400);
  es.addEventListener('hello', (e) => {
    $('connection').hidden = true;
    const h = JSON.parse(e.data);
    if (state.run !== null && state.run !== h.run) { loadSummary().catch(report); loadTimeline().catch(report); loadRows().catch(report); }
    state.run = h.run;
  });
  es.addEventListener('exchange', () => { refreshList(); refreshAll(); });
  es.addEventListener('findings', () => refreshAll());
  // Reconnect ourselves: a browser gives up on a stream whose server was down.
  es.onerror = () => {
    $('connection').hidden = false;
    es.close();
    setTimeout(connect, 1000);
  };
}

function report(e) { window.__errors.push(String(e && e.message ? e.message : e)); }

async function start() {
  setupTimelineInteraction();
  const onFilter = throttle(() => { $('list').scrollTop = 0; loadRows().catch(report); }, 150);
  for (const id of ['filter-text', 'filter-host', 'filter-step', 'filter-status']) $(id).addEventListener('input', onFilter);
  $('list').addEventListener('scroll', throttle(() => loadRows().catch(report), 60));
  $('reveal').addEventListener('click', () => { state.reveal = !state.reveal; if (state.selected !== null) select(state.selected); });
  window.addEventListener('resize', throttle(() => loadTimeline().catch(report), 300));
  const s = await loadSummary();
  await Promise.all([loadTimeline(), loadRows()]);
  if (s.live) connect();
  document.body.dataset.ready = '1';
}

start().catch(report);
