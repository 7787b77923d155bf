// Executions: a filtered list, and one execution as a live timeline of its
// steps with attempts, durations, inputs, outputs, errors and logs.
import { get, post, items } from '../api.js';
import { h, section, table, badge, ago, fmtTime, dur, link, kv, json, action, toast, errorState, clear } from '../ui.js';

export const title = 'Executions';

export function onStream(msg, ctx) {
  if (msg.event !== 'execution') return false;
  if (ctx.params[0]) return msg.data.execution_id === ctx.params[0];
  return !msg.data.step;
}

export function render(ctx) {
  if (ctx.params[0]) return detail(ctx, ctx.params[0]);
  const q = ctx.query;
  const wf = h('input', { id: 'f-workflow', name: 'workflow', value: q.get('workflow') || '' });
  const st = h('select', { id: 'f-status', name: 'status' }, ['', 'pending', 'running', 'succeeded', 'failed', 'cancelled'].map(v =>
    h('option', { value: v, selected: (q.get('status') || '') === v || undefined }, v || 'any')));
  const form = h('form', { class: 'filters', role: 'search' },
    h('div', {}, h('label', { for: 'f-workflow' }, 'Workflow'), wf),
    h('div', {}, h('label', { for: 'f-status' }, 'Status'), st),
    h('button', { type: 'submit', class: 'btn' }, 'Filter'));
  form.addEventListener('submit', e => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (wf.value) p.set('workflow', wf.value);
    if (st.value) p.set('status', st.value);
    location.hash = '#/executions' + (p.toString() ? '?' + p : '');
  });
  return h('div', {}, h('h1', {}, 'Executions'), form, section('Executions, newest first', async () => {
    const box = h('div', {});
    const more = async cursor => {
      const p = new URLSearchParams({ limit: '50' });
      if (q.get('workflow')) p.set('workflow', q.get('workflow'));
      if (q.get('status')) p.set('status', q.get('status'));
      if (cursor) p.set('cursor', cursor);
      const d = await get('/executions?' + p);
      box.append(table(items(d), [
        { label: 'Execution', get: r => link('#/executions/' + encodeURIComponent(r.id), r.id) },
        { label: 'Workflow', get: r => link('#/workflows/' + encodeURIComponent(r.workflow), r.workflow) },
        { label: 'Status', get: r => badge(r.status) },
        { label: 'Trigger', get: r => r.trigger && r.trigger.kind },
        { label: 'Created', get: r => h('span', { title: fmtTime(r.created_at) }, ago(r.created_at)) },
        { label: 'Duration', get: r => dur(r.started_at, r.ended_at), class: 'num' },
        { label: 'Error', get: r => r.error ? r.error.message : '' },
      ], { class: 'stack', empty: cursor ? 'No more.' : 'No executions match.', label: 'executions' }));
      if (d && d.next_cursor) {
        const b = h('button', { type: 'button', class: 'btn', onclick: async () => { b.remove(); await more(d.next_cursor); } }, 'Load more');
        box.append(b);
      }
    };
    await more('');
    return box;
  }));
}

function detail(ctx, id) {
  const wrap = h('div', {}, h('p', {}, link('#/executions', '← All executions')));
  wrap.append(section('Execution ' + id, async () => {
    let x;
    try { x = await get('/executions/' + encodeURIComponent(id)); } catch (e) { return errorState(e, 'execution ' + id); }
    const acts = h('div', { class: 'actions' });
    if (ctx.canWrite && (x.status === 'pending' || x.status === 'running')) acts.append(action('Cancel', async () => { await post('/executions/' + encodeURIComponent(id) + '/cancel'); toast('Cancelled'); ctx.refresh(); }, { class: 'danger', confirm: 'Cancel this execution?' }));
    if (ctx.canWrite && x.status === 'failed') acts.append(action('Retry from failed step', async () => {
      const r = await post('/executions/' + encodeURIComponent(id) + '/retry'); toast('Retry started: ' + r.execution_id); location.hash = '#/executions/' + encodeURIComponent(r.execution_id);
    }));
    return h('div', {},
      h('div', { class: 'step-head' }, h('span', {}, link('#/workflows/' + encodeURIComponent(x.workflow), x.workflow)), h('span', { id: 'exec-status', 'data-status': x.status }, badge(x.status)), acts),
      kv([['Trigger', x.trigger ? x.trigger.kind + (x.trigger.actor ? ' by ' + x.trigger.actor : '') + (x.trigger.event_type ? ' (' + x.trigger.event_type + ')' : '') + (x.trigger.retry_of ? ' retry of ' + x.trigger.retry_of : '') : ''],
        ['Created', fmtTime(x.created_at)], ['Started', fmtTime(x.started_at)], ['Ended', fmtTime(x.ended_at)], ['Duration', dur(x.started_at, x.ended_at)],
        ['Policy version', x.policy_version ? x.policy_version.slice(0, 12) : ''], x.error ? ['Error', h('span', { class: 'badge bad' }, (x.error.step ? x.error.step + ': ' : '') + x.error.message)] : null]),
      x.event && x.event.data ? h('details', {}, h('summary', {}, 'Event / context'), json(x.event)) : null,
      h('h2', { class: 'sub' }, 'Steps'), timeline(x));
  }));
  return wrap;
}

function timeline(x) {
  const steps = x.steps || [];
  if (!steps.length) return h('p', { class: 'muted' }, x.status === 'pending' ? 'Waiting to start…' : 'No steps recorded.');
  const t0 = new Date(x.started_at || x.created_at).getTime();
  const ended = x.ended_at && !x.ended_at.startsWith('0001') ? new Date(x.ended_at).getTime() : Date.now();
  const tEnd = Math.max(ended, t0 + 1);
  return h('ol', { class: 'timeline', id: 'timeline' }, steps.map(st => {
    const a = st.started_at ? new Date(st.started_at).getTime() : t0, b = st.ended_at ? new Date(st.ended_at).getTime() : Date.now();
    const left = Math.max(0, (a - t0) / (tEnd - t0) * 100), width = Math.max(0.5, (b - a) / (tEnd - t0) * 100);
    return h('li', { class: st.status, 'data-step': st.name },
      h('div', { class: 'step-head' }, st.name, badge(st.status), st.phase === 'on_failure' ? badge('on_failure') : null,
        h('span', { class: 'muted' }, dur(st.started_at, st.ended_at)), st.reused_from ? h('span', { class: 'muted' }, 'reused from ' + st.reused_from) : null),
      h('div', { class: 'bar', style: `margin-left:${left.toFixed(1)}%;width:${Math.min(width, 100 - left).toFixed(1)}%` }),
      st.error ? h('p', { class: 'badge bad' }, st.error.code + ': ' + st.error.message) : null,
      (st.attempts || []).map(at => h('details', { class: 'attempt' },
        h('summary', {}, `Attempt ${at.attempt}${at.item ? ' [' + at.item + ']' : ''} · ${at.status} · ${dur(at.started_at, at.ended_at)}${at.interrupted ? ' · interrupted' : ''}`),
        at.inputs ? h('div', {}, h('strong', {}, 'Inputs'), json(at.inputs)) : null,
        at.outputs ? h('div', {}, h('strong', {}, 'Outputs'), json(at.outputs)) : null,
        at.error ? h('div', {}, h('strong', {}, 'Error'), json(at.error)) : null,
        at.logs && at.logs.length ? h('div', {}, h('strong', {}, 'Logs'), h('pre', { class: 'log' }, at.logs.map(l => `${fmtTime(l.time)} ${l.level || ''} ${l.message}`).join('\n'))) : null,
        at.next_attempt_at ? h('p', { class: 'muted' }, 'Next attempt ' + ago(at.next_attempt_at)) : null)),
      st.output !== undefined && !(st.attempts || []).length ? json(st.output) : null);
  }));
}
