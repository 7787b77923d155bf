// Discovery and registry: services found, nodes with heartbeat state,
// scan history and an interactive topology graph.
import { get, post, items } from '../api.js';
import { h, section, table, badge, ago, fmtTime, autoTable, action, toast, kv, clear } from '../ui.js';
import { topology } from '../graph.js';

export const title = 'Discovery';
export const live = msg => msg.event === 'event' && /^(discovery|registry|node|service\.discovered)/.test(msg.data.type || '');

export function render(ctx) {
  const info = h('div', { class: 'card-body', id: 'vertex-info', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Select a vertex for its details.'));
  return h('div', {}, h('h1', {}, 'Discovery and registry', ctx.canWrite ? action('Scan now', async () => {
    const r = await post('/discovery/scan'); toast('Scan finished' + (r && r.found != null ? ': ' + r.found + ' found' : '')); ctx.refresh();
  }, { class: 'primary' }) : null),
  section('Topology', async () => {
    const t = await get('/registry/topology');
    return h('div', {}, topology(t, v => { clear(info).append(kv(Object.entries(v).filter(([, x]) => typeof x !== 'object').map(([k, x]) => [k, x]))); }), info);
  }),
  section('Nodes', async () => table(items(await get('/registry/nodes')), [
    { label: 'Node', get: n => n.name || n.id }, { label: 'State', get: n => badge(n.state) }, { label: 'Address', get: n => n.address },
    { label: 'Last heartbeat', get: n => h('span', { title: fmtTime(n.last_heartbeat) }, ago(n.last_heartbeat)) }, { label: 'TTL', get: n => n.ttl },
    { label: 'Services', get: n => (n.services || []).map(s => s.name).join(', ') }, { label: 'Version', get: n => n.version }, { label: 'Source', get: n => n.source + (n.self ? ' (self)' : '') },
  ], { class: 'stack', empty: 'No nodes registered.', label: 'nodes' })),
  section('Discovered services', async () => autoTable(items(await get('/discovery/services')), ['name', 'kind', 'protocol', 'url', 'address', 'port', 'health', 'status', 'last_seen', 'first_seen'],
    { class: 'stack', empty: 'No services discovered yet.', hint: 'Discovery scans on its schedule; operators can scan now.', label: 'discovered services' })),
  section('Scan history', async () => autoTable(items(await get('/discovery/history?limit=50')), ['time', 'started_at', 'protocol', 'trigger', 'found', 'new', 'lost', 'duration_ms', 'error'],
    { class: 'stack', empty: 'No scans yet.', label: 'scan history' })));
}
