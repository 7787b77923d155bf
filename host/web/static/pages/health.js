// Health: components, checks, supervised services and the history of
// incidents with their healing attempts.
import { get, items } from '../api.js';
import { h, section, table, badge, ago, fmtTime, ms, autoTable, kv, tile } from '../ui.js';

export const title = 'Health';
export const live = msg => msg.event === 'event' && /^(health|healing|service|incident|check)/.test(msg.data.type || '');

export function render() {
  return h('div', {}, h('h1', {}, 'Health'),
    section('Components', async () => {
      const hl = await get('/health', { acceptError: true });
      const st = hl.stats || {};
      return h('div', {},
        h('div', { class: 'tiles' },
          tile('Overall', hl.overall_status, null, hl.overall_status === 'healthy' ? 'ok' : 'bad'),
          tile('Checks healthy', (st.healthy ?? 0) + '/' + (st.total_checks ?? 0)),
          tile('Successful healings', st.successful_healings ?? 0, null, 'ok'),
          tile('Failed healings', st.failed_healings ?? 0, null, st.failed_healings ? 'bad' : '')),
        table(hl.components || [], [
          { label: 'Component', get: c => c.name }, { label: 'Type', get: c => c.type }, { label: 'Status', get: c => badge(c.status) },
          { label: 'Output', get: c => c.output }, { label: 'Last check', get: c => ago(c.last_check) }, { label: 'Since', get: c => ago(c.since) },
        ], { class: 'stack', empty: 'No components are checked.', label: 'components' }));
    }),
    section('Incidents and healings', async () => {
      const rows = items(await get('/health/incidents?limit=50'));
      if (!rows.length) return h('div', { class: 'state empty', id: 'incidents-empty' }, h('p', {}, 'No incidents. Everything has stayed healthy.'));
      return h('ol', { class: 'timeline', id: 'incidents' }, rows.map(i => h('li', { class: i.status === 'open' ? 'running' : i.outcome === 'healed' || i.outcome === 'resolved' ? 'succeeded' : 'failed', 'data-incident': i.id, 'data-check': i.check || '' },
        h('div', { class: 'step-head' }, i.check || i.component || i.id, badge(i.status), i.outcome ? badge(i.outcome) : null, h('span', { class: 'muted' }, ago(i.opened))),
        h('p', {}, i.message || ''),
        kv([['Kind', i.kind], ['Component', i.component], ['Opened', fmtTime(i.opened)], ['Closed', fmtTime(i.closed)], ['Duration', ms(i.duration_ms)], i.exhausted ? ['Exhausted', i.exhausted] : null]),
        (i.attempts || []).length ? table(i.attempts, [
          { label: 'Strategy', get: a => a.strategy }, { label: 'Attempt', get: a => a.attempt, class: 'num' }, { label: 'Outcome', get: a => badge(a.outcome) },
          { label: 'Took', get: a => ms(a.duration_ms), class: 'num' }, { label: 'Message', get: a => a.message }, { label: 'When', get: a => ago(a.started) },
        ], { class: 'stack', label: 'healing attempts' }) : h('p', { class: 'muted' }, 'No healing attempted.'))));
    }),
    section('Checks', async () => autoTable(items(await get('/health/checks')).map(c => ({ ...c, status: c.state ? c.state.status : c.status, last_check: c.state ? c.state.last_check : c.last_check, output: c.state ? c.state.output : c.output })),
      ['name', 'type', 'status', 'interval', 'target', 'output', 'last_check'], { class: 'stack', empty: 'No checks are defined.', hint: 'Add a check block to a policy file.', label: 'checks' })),
    section('Supervised services', async () => autoTable(items(await get('/services')), ['name', 'state', 'status', 'pid', 'restarts', 'started_at', 'last_exit', 'last_error'],
      { class: 'stack', empty: 'No services are supervised.', hint: 'Add a service block to a policy file.', label: 'services' })));
}
