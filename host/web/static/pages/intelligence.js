// Intelligence: insights, forecasts drawn against actuals, anomalies and
// suggestions with apply and dismiss.
import { get, post, items } from '../api.js';
import { h, section, table, badge, ago, autoTable, action, toast, json, errorState } from '../ui.js';
import { lineChart, toPoints, tms } from '../chart.js';

export const title = 'Intelligence';
export const live = msg => msg.event === 'event' && /^(intelligence|suggestion)/.test(msg.data.type || '');

export function render(ctx) {
  const series = ctx.query.get('series') || 'cpu';
  return h('div', {}, h('h1', {}, 'Intelligence', ctx.canWrite ? action('Analyze now', async () => {
    const r = await post('/intelligence/analyze'); toast(`Analyzed ${r.audit_entries} entries: ${r.new_suggestions} new suggestions`); ctx.refresh();
  }) : null),
  section('Suggestions', async () => {
    const rows = items(await get('/intelligence/suggestions?limit=100'));
    if (!rows.length) return h('div', { class: 'state empty' }, h('p', {}, 'No suggestions yet.'), h('p', { class: 'hint' }, 'Heady suggests automation once it has seen repeated actions or failing workflows in the audit trail.'));
    return h('ul', { class: 'suggestions plain', id: 'suggestions' }, rows.map(sg => h('li', { class: 'card', 'data-suggestion': sg.id, 'data-status': sg.status },
      h('h2', {}, h('span', {}, sg.title), h('span', { class: 'actions' }, badge(sg.impact), badge(sg.status))),
      h('p', {}, sg.description || ''),
      sg.policy ? h('details', {}, h('summary', {}, 'Policy it writes' + (sg.file ? ' (' + sg.file + ')' : '')), h('pre', { class: 'json' }, sg.policy)) : null,
      sg.evidence ? h('details', {}, h('summary', {}, 'Evidence'), json(sg.evidence)) : null,
      h('p', { class: 'muted' }, 'Created ' + ago(sg.created_at) + (sg.acted_by ? ' · ' + sg.status + ' by ' + sg.acted_by : '')),
      ctx.canWrite ? h('div', { class: 'actions' },
        sg.status === 'pending' ? action('Apply', async () => { await post('/intelligence/suggestions/' + encodeURIComponent(sg.id) + '/apply'); toast('Applied: ' + sg.title); ctx.refresh(); }, { class: 'primary apply' }) : null,
        sg.status === 'pending' ? action('Dismiss', async () => { await post('/intelligence/suggestions/' + encodeURIComponent(sg.id) + '/dismiss'); toast('Dismissed'); ctx.refresh(); }, { class: 'dismiss' }) : null,
        sg.status === 'applied' || sg.status === 'dismissed' ? action('Undo', async () => { await post('/intelligence/suggestions/' + encodeURIComponent(sg.id) + '/undo'); toast('Undone'); ctx.refresh(); }) : null) : null)));
  }),
  section('Forecast: ' + series, async () => {
    const picker = h('div', { class: 'actions' }, ['cpu', 'memory'].map(sr => h('a', { class: 'btn', href: '#/intelligence?series=' + sr, 'aria-current': sr === series ? 'true' : undefined }, sr)));
    let fc;
    try { fc = await get('/intelligence/predictions?series=' + encodeURIComponent(series) + '&horizon=24h'); }
    catch (e) { return h('div', {}, picker, e.status === 409 ? h('div', { class: 'state empty' }, h('p', {}, 'Not enough history to forecast ' + series + ' yet.')) : errorState(e, 'the forecast')); }
    const times = (fc.times || []).map(tms);
    const pts = (fc.points || []).map((p, i) => [times[i], p.value]).filter(p => isFinite(p[0]));
    const lower = (fc.points || []).map((p, i) => [times[i], p.lower]).filter(p => isFinite(p[0]));
    const upper = (fc.points || []).map((p, i) => [times[i], p.upper]).filter(p => isFinite(p[0]));
    let actual = [];
    try { actual = toPoints(await get('/metrics/query?series=' + encodeURIComponent(series) + '&since=72h&step=1h')); } catch { /* actuals are optional */ }
    const an = await get('/intelligence/anomalies').catch(() => ({ metrics: [] }));
    const anomalies = (an.metrics || []).filter(a => a.series === series).map(a => ({ t: tms(a.time), v: a.value, label: `anomaly ${a.value.toFixed(2)} (score ${a.score.toFixed(2)})` }));
    return h('div', {}, picker, lineChart({ label: `${series}: actual and 24h forecast with 95% interval`, series: [{ name: 'actual', points: actual }], forecast: { points: pts, lower, upper }, anomalies }));
  }),
  section('Anomalies', async () => {
    const an = await get('/intelligence/anomalies');
    return h('div', {},
      autoTable(an.metrics || [], ['series', 'time', 'value', 'score'], { empty: 'No anomalous metric samples.', label: 'metric anomalies' }),
      h('h2', {}, 'Bursts of failures'),
      autoTable(an.bursts || [], ['kind', 'subject', 'count', 'from', 'to'], { empty: 'No bursts of repeated failures.', label: 'bursts' }));
  }),
  section('Insights', async () => {
    const d = await get('/intelligence/insights');
    return h('div', {},
      h('p', { class: 'muted' }, 'Last analysis ' + ago(d.analyzed_at)),
      autoTable(d.insights || [], ['kind', 'title', 'subject', 'score'], { class: 'stack', empty: 'No insights yet.', label: 'insights' }),
      h('h2', {}, 'Repeated action sequences'),
      table(d.patterns || [], [{ label: 'Actions', get: p => (p.actions || []).join(' → ') }, { label: 'Sessions', get: p => p.sessions, class: 'num' }, { label: 'Days', get: p => p.days, class: 'num' }, { label: 'Actors', get: p => (p.actors || []).join(', ') }],
        { class: 'stack', empty: 'No repeated sequences found.', label: 'patterns' }),
      h('h2', {}, 'Workflow findings'),
      autoTable(d.findings || [], ['workflow', 'step', 'kind', 'title', 'impact'], { class: 'stack', empty: 'No findings.', label: 'findings' }));
  }));
}
