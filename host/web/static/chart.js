// chart.js: a hand-written SVG time-series chart: several series, a
// forecast band, threshold lines and marked moments (scaling decisions,
// anomalies).
import { h, s } from './ui.js';

const W = 760, H = 240, L = 48, R = 12, T = 12, B = 28;

// downsample keeps at most n points per series (bucket averages).
function downsample(pts, n) {
  if (pts.length <= n) return pts;
  const out = [], size = pts.length / n;
  for (let i = 0; i < n; i++) {
    const a = Math.floor(i * size), b = Math.floor((i + 1) * size);
    let st = 0, sv = 0, c = 0;
    for (let j = a; j < b; j++) { st += pts[j][0]; sv += pts[j][1]; c++; }
    if (c) out.push([st / c, sv / c]);
  }
  return out;
}

function niceTicks(min, max, n = 4) {
  const span = max - min || 1, step0 = span / n, mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(v => v >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) out.push(+v.toFixed(6));
  return out;
}

// lineChart({series:[{name, points:[[ms, v]], cls}], forecast:{points, lower, upper},
// thresholds:[{value,label,cls}], marks:[{t,label}], anomalies:[{t,v,label}], label})
export function lineChart(o) {
  const series = (o.series || []).map(x => ({ ...x, points: downsample((x.points || []).filter(p => isFinite(p[0]) && isFinite(p[1])).sort((a, b) => a[0] - b[0]), 500) }));
  const fc = o.forecast && o.forecast.points ? o.forecast : null;
  const all = series.flatMap(x => x.points).concat(fc ? fc.points : []).concat(fc && fc.lower ? fc.lower : []).concat(fc && fc.upper ? fc.upper : []);
  if (!all.length) return h('div', { class: 'state empty' }, h('p', {}, o.emptyText || 'No samples in this window yet.'));
  let x0 = Math.min(...all.map(p => p[0])), x1 = Math.max(...all.map(p => p[0]));
  for (const m of o.marks || []) { if (m.t < x0) x0 = m.t; if (m.t > x1) x1 = m.t; }
  if (x1 === x0) { x0 -= 60000; x1 += 60000; }
  const vals = all.map(p => p[1]).concat((o.thresholds || []).map(t => t.value));
  let y0 = Math.min(0, ...vals), y1 = Math.max(...vals);
  if (y1 === y0) y1 = y0 + 1;
  y1 += (y1 - y0) * 0.08;
  const X = t => L + (t - x0) / (x1 - x0) * (W - L - R);
  const Y = v => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  const path = pts => pts.map((p, i) => (i ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1)).join('');
  const kids = [];
  kids.push(s('title', {}, o.label || 'chart'));
  for (const v of niceTicks(y0, y1)) {
    kids.push(s('line', { class: 'axis', x1: L, x2: W - R, y1: Y(v), y2: Y(v) }));
    kids.push(s('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end' }, fmtNum(v)));
  }
  const span = x1 - x0;
  for (let i = 0; i <= 4; i++) {
    const t = x0 + span * i / 4, d = new Date(t);
    const txt = span > 2 * 86400e3 ? d.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric' }) : d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    kids.push(s('text', { x: X(t), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' }, txt));
  }
  if (fc && fc.lower && fc.upper && fc.lower.length && fc.upper.length) {
    const band = fc.upper.concat([...fc.lower].reverse());
    kids.push(s('path', { class: 'band', d: path(band) + 'Z' }));
  }
  for (const t of o.thresholds || []) {
    kids.push(s('line', { class: t.cls || 'thr-up', x1: L, x2: W - R, y1: Y(t.value), y2: Y(t.value) }));
    kids.push(s('text', { x: W - R - 2, y: Y(t.value) - 4, 'text-anchor': 'end' }, t.label + ' ' + fmtNum(t.value)));
  }
  series.forEach((x, i) => { if (x.points.length) kids.push(s('path', { class: 'series ' + (x.cls || 's' + i), d: path(x.points) })); });
  if (fc && fc.points.length) kids.push(s('path', { class: 'forecast', d: path(fc.points) }));
  for (const m of o.marks || []) {
    kids.push(s('line', { class: 'mark', x1: X(m.t), x2: X(m.t), y1: T, y2: H - B }));
    kids.push(s('circle', { class: 'mark-dot', cx: X(m.t), cy: T + 4, r: 4 }, s('title', {}, m.label)));
  }
  for (const a of o.anomalies || []) kids.push(s('circle', { class: 'anomaly', cx: X(a.t), cy: Y(a.v), r: 4.5 }, s('title', {}, a.label || 'anomaly')));
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': o.label || 'chart', preserveAspectRatio: 'none' }, kids);
  const legend = h('div', { class: 'legend' },
    series.map((x, i) => h('span', {}, h('i', { class: 'lg ' + (x.cls || 's' + i) }), x.name)),
    fc ? h('span', {}, h('i', { style: 'background:#c2410c' }), 'forecast') : null,
    (o.marks || []).length ? h('span', {}, h('i', { style: 'background:#d97706' }), (o.marks || []).length + ' decisions marked') : null,
    (o.anomalies || []).length ? h('span', {}, h('i', { style: 'background:#a4161a' }), 'anomaly') : null);
  return h('div', { class: 'chart' }, svg, legend);
}

export function fmtNum(v) {
  if (v == null || !isFinite(v)) return '—';
  const a = Math.abs(v);
  return a >= 1e6 ? (v / 1e6).toFixed(1) + 'M' : a >= 1e4 ? (v / 1e3).toFixed(0) + 'k' : a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/\.?0+$/, '') || '0';
}

// toPoints turns the many shapes a series may come in into [[ms, v]]:
// [[t, v]], [{t|time|timestamp, v|value}], {timestamps, values}.
export function toPoints(x) {
  if (!x) return [];
  if (Array.isArray(x.timestamps) && Array.isArray(x.values)) return x.timestamps.map((t, i) => [tms(t), +x.values[i]]);
  const arr = Array.isArray(x) ? x : (x.points || x.samples || x.values || x.data || []);
  return arr.map(p => Array.isArray(p) ? [tms(p[0]), +p[1]] : [tms(p.t ?? p.time ?? p.timestamp ?? p.ts), +(p.v ?? p.value ?? p.y ?? p.mean)]).filter(p => isFinite(p[0]) && isFinite(p[1]));
}
export function tms(t) {
  if (typeof t === 'number') return t < 1e12 ? t * 1000 : t;
  return new Date(t).getTime();
}
