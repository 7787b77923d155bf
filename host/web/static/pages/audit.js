// Audit: a filterable log, the trail of one resource and the chain
// verification result.
import { get, items } from '../api.js';
import { h, section, table, badge, ago, fmtTime, json, link, kv } from '../ui.js';

export const title = 'Audit';

const FIELDS = [['actor', 'Actor'], ['action', 'Action'], ['resource_type', 'Resource type'], ['resource_id', 'Resource id'], ['outcome', 'Outcome'], ['since', 'Since']];

export function render(ctx) {
  if (ctx.params[0] === 'trail' && ctx.params[2]) return trail(ctx.params[1], ctx.params[2]);
  const q = ctx.query;
  const inputs = FIELDS.map(([k]) => k === 'outcome'
    ? h('select', { id: 'a-' + k, name: k }, ['', 'success', 'failure', 'denied', 'error'].map(v => h('option', { value: v, selected: q.get(k) === v || undefined }, v || 'any')))
    : h('input', { id: 'a-' + k, name: k, value: q.get(k) || '', placeholder: k === 'since' ? '1h or 2026-01-02T15:04:05Z' : k === 'action' ? 'workflow.' : '' }));
  const form = h('form', { class: 'filters', role: 'search' }, FIELDS.map(([k, label], i) => h('div', {}, h('label', { for: 'a-' + k }, label), inputs[i])),
    h('button', { type: 'submit', class: 'btn' }, 'Filter'));
  form.addEventListener('submit', e => {
    e.preventDefault();
    const p = new URLSearchParams();
    FIELDS.forEach(([k], i) => { if (inputs[i].value) p.set(k, inputs[i].value); });
    location.hash = '#/audit' + (p.toString() ? '?' + p : '');
  });
  return h('div', {}, h('h1', {}, 'Audit'),
    section('Chain verification', async () => {
      const r = await get('/audit/verify');
      return h('div', { id: 'verify', 'data-ok': String(!!r.ok) }, kv([['Result', badge(r.ok ? 'ok' : 'failed')], ['Entries checked', r.checked], ['Head', r.head],
        ['Head hash', h('span', { class: 'mono' }, (r.head_hash || '').slice(0, 24))], r.ok ? null : ['First bad entry', r.first_bad], r.ok ? null : ['Reason', r.reason]]));
    }),
    form,
    section('Entries, newest first', async () => {
      const box = h('div', {});
      const more = async cursor => {
        const p = new URLSearchParams({ limit: '50' });
        for (const [k] of FIELDS) if (q.get(k)) p.set(k, q.get(k));
        if (cursor) p.set('cursor', cursor);
        const d = await get('/audit/logs?' + p);
        box.append(entries(items(d), cursor));
        if (d && d.next_cursor) { const b = h('button', { type: 'button', class: 'btn', onclick: async () => { b.remove(); await more(d.next_cursor); } }, 'Load more'); box.append(b); }
      };
      await more('');
      return box;
    }));
}

function entries(rows, cursor) {
  return table(rows, [
    { label: '#', get: e => e.seq, class: 'num' },
    { label: 'Time', get: e => h('span', { title: fmtTime(e.time) }, ago(e.time)) },
    { label: 'Actor', get: e => e.actor + (e.actor_kind && e.actor_kind !== 'token' ? ' (' + e.actor_kind + ')' : '') },
    { label: 'Action', get: e => e.action },
    { label: 'Resource', get: e => e.resource_type ? link('#/audit/trail/' + encodeURIComponent(e.resource_type) + '/' + encodeURIComponent(e.resource_id || '-'), e.resource_type + (e.resource_id ? ' ' + e.resource_id : '')) : '' },
    { label: 'Outcome', get: e => h('span', {}, badge(e.outcome), e.security ? ' ' : '', e.security ? badge('security') : '') },
    { label: 'Details', get: e => e.details ? h('details', {}, h('summary', {}, 'Show'), json(e.details)) : '' },
  ], { class: 'stack', empty: cursor ? 'No more.' : 'No entries match.', label: 'audit entries' });
}

function trail(type, id) {
  return h('div', {}, h('p', {}, link('#/audit', '← Audit log')), h('h1', {}, 'Trail of ' + type + ' ' + id),
    section('Every entry about this resource', async () => entries(items(await get('/audit/trail/' + encodeURIComponent(type) + '/' + encodeURIComponent(id) + '?limit=200')), '')));
}
