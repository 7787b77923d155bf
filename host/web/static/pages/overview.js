// Overview: GET /status as tiles, kept live by the stream.
import { get, items } from '../api.js';
import { h, tile, section, table, badge, ago, dur, link } from '../ui.js';

export const title = 'Overview';
export const live = msg => msg.event === 'execution' ? !msg.data.step : msg.event === 'event';

export function render() {
  return h('div', {},
    h('h1', {}, 'Overview'),
    section('Automation systems', async () => {
      const st = await get('/status');
      const w = st.workflows || {}, sc = st.scaling || {}, he = st.healing || {}, ig = st.intelligence || {}, d = st.discovery || {};
      const hs = he.stats || {};
      const tone = he.overall_status === 'healthy' ? 'ok' : he.overall_status === 'unhealthy' ? 'bad' : 'warn';
      return h('div', { class: 'tiles', id: 'status-tiles' },
        tile('Active workflows', w.active, (w.triggers ?? 0) + ' triggers'),
        tile('Health', he.overall_status || '—', (hs.healthy ?? 0) + '/' + (hs.total_checks ?? 0) + ' checks healthy', tone),
        tile('Healings', (hs.successful_healings ?? 0), (hs.failed_healings ?? 0) + ' failed', hs.failed_healings ? 'warn' : ''),
        tile('CPU', pct(sc.cpu), 'host'),
        tile('Memory', pct(sc.memory), 'host'),
        tile('Active nodes', sc.active_nodes),
        tile('Discovered services', d.services),
        tile('Learned patterns', ig.learned_patterns, (ig.pending_optimizations ?? 0) + ' pending optimizations'),
        tile('High-impact suggestions', ig.high_impact_suggestions, null, ig.high_impact_suggestions ? 'warn' : ''),
        st.cluster ? clusterTile(st.cluster) : null);
    }),
    section('Recent executions', async () => {
      const rows = items(await get('/executions?limit=10'));
      return table(rows, [
        { label: 'Execution', get: r => link('#/executions/' + encodeURIComponent(r.id), r.id) },
        { label: 'Workflow', get: r => link('#/workflows/' + encodeURIComponent(r.workflow), r.workflow) },
        { label: 'Status', get: r => badge(r.status) },
        { label: 'Trigger', get: r => r.trigger && r.trigger.kind },
        { label: 'Started', get: r => ago(r.started_at || r.created_at) },
        { label: 'Duration', get: r => dur(r.started_at, r.ended_at), class: 'num' },
      ], { class: 'stack', empty: 'No executions yet.', hint: 'Workflows run on their schedules and events, or from the Workflows page.', label: 'recent executions' });
    }));
}

// clusterTile shows who leads a cluster and how many servers are up (cluster
// mode only: a single server's status has no cluster section).
function clusterTile(c) {
  const members = c.members || [];
  const up = members.filter(m => m.state === 'leader' || m.state === 'follower').length;
  const tone = !c.leader ? 'bad' : up < members.length ? 'warn' : 'ok';
  return tile('Cluster', c.leader ? 'leader ' + c.leader : 'no leader', up + '/' + members.length + ' servers up · term ' + (c.term ?? '—'), tone);
}

function pct(v) { return v == null ? '—' : (+v).toFixed(1) + '%'; }
