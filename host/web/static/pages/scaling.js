// Scaling: metric charts over time with thresholds, scaling decisions
// marked on the chart, and the node count.
import { get, items } from '../api.js';
import { h, section, table, badge, ago, fmtTime, autoTable, tile, errorState } from '../ui.js';
import { lineChart, toPoints, tms } from '../chart.js';

export const title = 'Scaling';
export const live = msg => msg.event === 'event' && /^scal/.test(msg.data.type || '');

const WINDOWS = [['1h', '1 hour', '30s'], ['24h', '24 hours', '5m'], ['168h', '7 days', '1h']];

export function render(ctx) {
  const win = WINDOWS.find(w => w[0] === ctx.query.get('window')) || WINDOWS[1];
  const picker = h('div', { class: 'actions', role: 'group', 'aria-label': 'time window' }, WINDOWS.map(w => h('a', { class: 'btn', href: '#/scaling?window=' + w[0], 'aria-current': w === win ? 'true' : undefined }, w[1])));
  const data = (async () => {
    const [m, hist] = await Promise.all([get('/scaling/metrics'), get('/scaling/history?limit=500&since=' + win[0]).catch(() => null)]);
    return { m, decisions: hist ? items(hist) : [] };
  })();
  data.catch(() => {});
  return h('div', {}, h('h1', {}, 'Scaling', picker),
    section('Now', async () => {
      const { m } = await data;
      const pols = policies(m);
      const tiles = [];
      for (const k of ['cpu', 'memory', 'disk', 'requests_per_min', 'active_nodes', 'nodes']) if (m && typeof m[k] === 'number') tiles.push(tile(k.replace(/_/g, ' '), m[k].toFixed ? +m[k].toFixed(1) : m[k]));
      for (const p of pols) tiles.push(tile(p.name + ' nodes', p.current ?? '—', 'desired ' + (p.desired ?? '—') + ' · ' + (p.min ?? '?') + '–' + (p.max ?? '?')));
      return tiles.length ? h('div', { class: 'tiles' }, tiles) : h('div', { class: 'state empty' }, h('p', {}, 'No scaling policies.'), h('p', { class: 'hint' }, 'Add a scaling block to a policy file.'));
    }),
    section('Metrics over ' + win[1], async () => {
      const { m, decisions } = await data;
      const pols = policies(m);
      const charts = [];
      const seen = new Set();
      for (const p of pols) for (const mv of p.metrics || []) {
        const series = mv.series || mv.name;
        if (seen.has(p.name + '/' + series)) continue;
        seen.add(p.name + '/' + series);
        let pts = [];
        try { pts = toPoints(await get('/metrics/query?series=' + encodeURIComponent(series) + '&since=' + win[0] + '&step=' + win[2])); }
        catch (e) { if (e.status !== 404 || e.missing) { charts.push(errorState(e, 'metric history')); continue; } }
        const thr = [];
        if (mv.scale_up) thr.push({ value: mv.scale_up, label: 'scale up', cls: 'thr-up' });
        if (mv.scale_down) thr.push({ value: mv.scale_down, label: 'scale down', cls: 'thr-down' });
        if (mv.target) thr.push({ value: mv.target, label: 'target', cls: 'thr-up' });
        const marks = decisions.filter(d => d.policy === p.name && d.action && d.action !== 'hold').map(d => ({ t: tms(d.time), label: `${d.action} ${d.from}→${d.to}: ${d.reason || ''}` }));
        charts.push(h('figure', { class: 'card' }, h('figcaption', {}, h('strong', {}, `${p.name}: ${mv.name}`), mv.value != null ? h('span', { class: 'muted' }, ' now ' + (+mv.value).toFixed(1)) : null),
          lineChart({ label: `${mv.name} over ${win[1]} with scale thresholds and ${marks.length} scaling decisions`, series: [{ name: series, points: pts }], thresholds: thr, marks })));
      }
      return charts.length ? h('div', { class: 'grid' }, charts) : h('div', { class: 'state empty' }, h('p', {}, 'No metrics are watched by a scaling policy.'));
    }),
    section('Decisions', async () => {
      const { decisions } = await data;
      return table(decisions.slice(0, 100), [
        { label: 'When', get: d => h('span', { title: fmtTime(d.time) }, ago(d.time)) }, { label: 'Policy', get: d => d.policy },
        { label: 'Action', get: d => badge(d.action) }, { label: 'Nodes', get: d => d.from + ' → ' + d.to, class: 'num' },
        { label: 'Applied', get: d => d.applied ? 'yes' : d.dry_run ? 'dry run' : 'no' }, { label: 'Reason', get: d => d.reason || d.error || '' },
        { label: 'Trigger', get: d => d.trigger },
      ], { class: 'stack', empty: 'No scaling decisions in this window.', label: 'scaling decisions' });
    }));
}

// policies finds the policy views in GET /scaling/metrics.
function policies(m) {
  if (!m) return [];
  if (Array.isArray(m.policies)) return m.policies;
  if (Array.isArray(m.items)) return m.items;
  if (Array.isArray(m)) return m;
  return [];
}
