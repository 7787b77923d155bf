// Plugins: state, restarts, components and their config schemas.
import { get, items } from '../api.js';
import { h, section, table, badge, ago, json, errorState, clear, loading } from '../ui.js';

export const title = 'Plugins';
export const live = msg => msg.event === 'event' && /^plugin\./.test(msg.data.type || '');

export function render() {
  return h('div', {}, h('h1', {}, 'Plugins'), section('Installed plugins', async () => {
    const rows = items(await get('/plugins'));
    return table(rows, [
      { label: 'Plugin', get: p => h('strong', {}, p.name) }, { label: 'Version', get: p => p.version },
      { label: 'State', get: p => badge(p.state) }, { label: 'PID', get: p => p.pid || '', class: 'num' },
      { label: 'Restarts', get: p => p.restarts ?? 0, class: 'num' }, { label: 'Started', get: p => ago(p.started_at) },
      { label: 'Components', get: p => (p.components || []).map(c => c.kind + ':' + c.name).join(', ') },
      { label: 'Pinned', get: p => p.pinned ? 'sha256' : 'no' }, { label: 'Last error', get: p => p.last_error || '' },
      { label: 'Schema', get: p => schema(p.name) },
    ], { class: 'stack', empty: 'No plugins found in the plugin directories.', hint: 'Build them with `make build`; they are found in bin/plugins.', label: 'plugins' });
  }));
}

function schema(name) {
  const body = h('div', {});
  const d = h('details', {}, h('summary', {}, 'Show'), body);
  d.addEventListener('toggle', async () => {
    if (!d.open || body.dataset.loaded) return;
    body.append(loading());
    try { const m = await get('/plugins/' + encodeURIComponent(name) + '/schema'); clear(body).append(json(m)); body.dataset.loaded = '1'; }
    catch (e) { clear(body).append(errorState(e, 'the schema')); }
  });
  return d;
}
