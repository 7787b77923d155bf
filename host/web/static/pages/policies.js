// Policies: loaded files and objects, the last reload with diagnostics.
import { get, post } from '../api.js';
import { h, section, table, badge, fmtTime, kv, action, toast } from '../ui.js';

export const title = 'Policies';
export const live = msg => msg.event === 'event' && msg.data.type === 'policy.reloaded';

export function render(ctx) {
  const pol = get('/policies');
  pol.catch(() => {});
  return h('div', {}, h('h1', {}, 'Policies', ctx.canWrite ? action('Reload now', async () => {
    try { const r = await post('/reload'); toast(r.applied ? 'Reloaded: version ' + r.version.slice(0, 12) : r.message || 'No change'); }
    catch (e) { toast('Reload refused: ' + e.message, 'bad'); }
    ctx.refresh();
  }, { class: 'primary' }) : null),
  section('Last reload', async () => {
    const p = await pol;
    const r = p.last_reload || {};
    return h('div', {}, kv([['Directory', p.dir], ['Version', (p.version || '').slice(0, 12)], ['Last reload', fmtTime(r.time)], ['Trigger', r.trigger],
      ['Result', badge(r.valid === false ? 'failed' : r.applied ? 'applied' : r.time ? 'unchanged' : '—')], ['Message', r.message]]),
      (r.diagnostics || []).length ? table(r.diagnostics, [
        { label: 'Severity', get: d => badge(d.severity || 'error') }, { label: 'Where', get: d => h('span', { class: 'mono' }, d.range || [d.file, d.line, d.column].filter(Boolean).join(':') || d.subject || '') },
        { label: 'Summary', get: d => d.summary || d.message }, { label: 'Detail', get: d => d.detail || '' },
      ], { class: 'stack', label: 'diagnostics' }) : h('p', { class: 'muted' }, 'No diagnostics.'));
  }),
  section('Files', async () => table((await pol).files || [], [
    { label: 'File', get: f => h('span', { class: 'mono' }, f.path) }, { label: 'SHA-256', get: f => h('span', { class: 'mono' }, (f.sha256 || '').slice(0, 16)) },
  ], { empty: 'No policy files loaded.', label: 'policy files' })),
  section('Objects', async () => table((await pol).objects || [], [
    { label: 'Kind', get: o => o.kind }, { label: 'Name', get: o => o.name }, { label: 'Defined at', get: o => h('span', { class: 'mono' }, o.file + ':' + o.line) },
  ], { class: 'stack', empty: 'No objects.', label: 'policy objects' })));
}
