// ui.js: small DOM helpers. Content is always set as text, never as HTML.
export function h(tag, attrs, ...kids) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, kids);
  return el;
}
function append(el, kids) {
  for (const k of kids) {
    if (k === undefined || k === null || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}
export const s = (tag, attrs, ...kids) => h('svg:' + tag, attrs, ...kids);

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

export function fmtTime(t) {
  if (!t || t.startsWith('0001')) return '—';
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}
export function ago(t) {
  if (!t || t.startsWith('0001')) return '—';
  const sec = (Date.now() - new Date(t).getTime()) / 1000;
  const fut = sec < 0, a = Math.abs(sec);
  const v = a < 60 ? Math.round(a) + 's' : a < 3600 ? Math.round(a / 60) + 'm' : a < 86400 ? Math.round(a / 3600) + 'h' : Math.round(a / 86400) + 'd';
  return fut ? 'in ' + v : v + ' ago';
}
export function dur(a, b) {
  if (!a || a.startsWith('0001')) return '—';
  const end = b && !b.startsWith('0001') ? new Date(b) : new Date();
  const ms = end - new Date(a);
  return ms < 1000 ? ms + ' ms' : ms < 60000 ? (ms / 1000).toFixed(2) + ' s' : Math.round(ms / 60000) + ' min';
}
export function ms(n) { return n == null ? '—' : n < 1000 ? n + ' ms' : (n / 1000).toFixed(1) + ' s'; }

const tones = { succeeded: 'ok', healthy: 'ok', success: 'ok', running: 'info', pending: 'muted', alive: 'ok', up: 'ok', ok: 'ok',
  failed: 'bad', unhealthy: 'bad', error: 'bad', failure: 'bad', denied: 'bad', dead: 'bad', down: 'bad', crashed: 'bad',
  degraded: 'warn', cancelled: 'warn', suspect: 'warn', open: 'warn', healing: 'info', resolved: 'ok', closed: 'ok', skipped: 'muted',
  applied: 'ok', dismissed: 'muted', scale_up: 'info', scale_down: 'info', hold: 'muted', stopped: 'muted' };
export function badge(v) {
  const t = String(v ?? '—');
  return h('span', { class: 'badge ' + (tones[t.toLowerCase()] || 'muted') }, t);
}

export function empty(msg, hint) { return h('div', { class: 'state empty', role: 'status' }, h('p', {}, msg), hint ? h('p', { class: 'hint' }, hint) : null); }
export function errorState(e, what) {
  if (e && e.status === 404 && (e.missing || /no route/.test(e.message))) {
    return h('div', { class: 'state unavailable', role: 'status' }, h('p', {}, (what || 'This view') + ' is not available on this host.'),
      h('p', { class: 'hint' }, 'The endpoint it reads is not served by this version of Heady.'));
  }
  return h('div', { class: 'state error', role: 'alert' }, h('p', {}, 'Could not load ' + (what || 'this view') + '.'), h('p', { class: 'hint' }, e ? e.message : 'unknown error'));
}
export function loading() { return h('div', { class: 'state loading', 'aria-busy': 'true' }, 'Loading…'); }

// pendingLoads collects the loads of the page being built; the router
// shows the page once they settle.
export const pendingLoads = [];

// section renders a titled card whose body comes from an async loader; a
// failure shows an error (or "not available") state in that card only.
export function section(title, loader, opts = {}) {
  const body = h('div', { class: 'card-body' }, loading());
  const card = h('section', { class: 'card ' + (opts.class || ''), 'aria-label': title }, h('h2', {}, title, opts.actions || null), body);
  const p = Promise.resolve().then(loader).then(content => { clear(body); body.append(content ?? empty('Nothing to show.')); })
    .catch(e => { clear(body); body.append(errorState(e, title)); });
  pendingLoads.push(p);
  return card;
}

// table renders rows with columns [{label, get(row) → node|string, class}].
export function table(rows, cols, opts = {}) {
  if (!rows || !rows.length) return empty(opts.empty || 'Nothing here yet.', opts.hint);
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': opts.label || 'table' },
    h('table', { class: opts.class || '' },
      h('thead', {}, h('tr', {}, cols.map(c => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', {}, rows.map(r => h('tr', opts.rowAttrs ? opts.rowAttrs(r) : {}, cols.map(c => {
        const v = c.get(r);
        return h('td', { class: c.class, 'data-label': c.label }, v instanceof Node ? v : (v == null || v === '' ? '—' : String(v)));
      }))))));
}

export function tile(label, value, sub, tone) {
  return h('div', { class: 'tile ' + (tone || '') }, h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value ?? '—'), sub ? h('div', { class: 'tile-sub' }, sub) : null);
}

export function json(v) { return h('pre', { class: 'json' }, JSON.stringify(v, null, 2)); }

let toastBox;
export function toast(msg, tone = 'ok') {
  if (!toastBox) { toastBox = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' }); document.body.append(toastBox); }
  const t = h('div', { class: 'toast ' + tone }, msg);
  toastBox.append(t);
  setTimeout(() => t.remove(), 5000);
}

// button for write actions; the caller decides whether to render it.
export function action(label, fn, opts = {}) {
  const b = h('button', { type: 'button', class: 'btn ' + (opts.class || ''), 'data-write': '', 'aria-label': opts.aria }, label);
  b.addEventListener('click', async () => {
    if (opts.confirm && !confirm(opts.confirm)) return;
    b.disabled = true;
    try { await fn(); } catch (e) { toast(e.message, 'bad'); } finally { b.disabled = false; }
  });
  return b;
}

export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(p => p).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v instanceof Node ? v : (v == null || v === '' ? '—' : String(v)))]));
}

export function link(href, text) { return h('a', { href }, text); }

export function debounce(fn, ms) {
  let t = null;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

// autoTable shows rows whose shape is not fixed: the preferred keys that
// occur first, then other scalar keys, up to max columns.
export function autoTable(rows, preferred = [], opts = {}) {
  if (!rows || !rows.length) return table(rows, [], opts);
  const seen = new Set();
  for (const r of rows.slice(0, 50)) for (const k of Object.keys(r || {})) seen.add(k);
  const keys = preferred.filter(k => seen.has(k));
  for (const k of seen) if (!keys.includes(k) && keys.length < (opts.max || 7) && rows.some(r => r[k] !== null && typeof r[k] !== 'object')) keys.push(k);
  return table(rows, keys.map(k => ({ label: k.replace(/_/g, ' '), get: r => cell(k, r[k], opts.links), class: typeof rows[0][k] === 'number' ? 'num' : '' })), opts);
}
function cell(k, v, links) {
  if (v == null || v === '') return '—';
  if (links && links[k]) return links[k](v);
  if (/^(status|state|outcome|health|action|severity|impact)$/.test(k)) return badge(v);
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) return h('span', { title: fmtTime(v) }, ago(v));
  if (typeof v === 'object') return h('span', { class: 'mono' }, JSON.stringify(v).slice(0, 120));
  if (typeof v === 'number' && !Number.isInteger(v)) return v.toFixed(2);
  return String(v);
}
