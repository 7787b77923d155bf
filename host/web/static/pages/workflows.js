// Workflows: list with triggers and next run; one workflow with its
// executions; run now with a context form (operators).
import { get, post, items } from '../api.js';
import { h, section, table, badge, ago, fmtTime, dur, link, kv, toast, errorState } from '../ui.js';

export const title = 'Workflows';
export const live = msg => msg.event === 'execution' && !msg.data.step;

export function render(ctx) {
  if (ctx.params[0]) return detail(ctx, ctx.params[0]);
  return h('div', {},
    h('h1', {}, 'Workflows'),
    section('All workflows', async () => {
      const rows = items(await get('/workflows'));
      return table(rows, [
        { label: 'Workflow', get: r => h('span', {}, link('#/workflows/' + encodeURIComponent(r.name), r.name), r.description ? h('div', { class: 'muted' }, r.description) : null) },
        { label: 'Enabled', get: r => badge(r.enabled ? 'enabled' : 'disabled') },
        { label: 'Triggers', get: r => (r.triggers || []).map(t => t.text || t.kind).join('; ') },
        { label: 'Next run', get: r => r.next_run ? h('span', { title: fmtTime(r.next_run) }, ago(r.next_run)) : '—' },
        { label: 'Last run', get: r => r.last_execution ? h('span', {}, badge(r.last_execution.status), ' ', ago(r.last_execution.created_at)) : '—' },
        { label: 'Running', get: r => r.running + (r.queued ? ' (+' + r.queued + ' queued)' : ''), class: 'num' },
        { label: 'OK / failed', get: r => (r.succeeded ?? 0) + ' / ' + (r.failed ?? 0), class: 'num' },
        { label: '', get: r => ctx.canWrite ? h('a', { class: 'btn', href: '#/workflows/' + encodeURIComponent(r.name) + '?run=1', 'data-write': '' }, 'Run…') : '' },
      ], { class: 'stack', empty: 'No workflows are loaded.', hint: 'Add a workflow block to a policy file; it loads on save.', label: 'workflows' });
    }));
}

function detail(ctx, name) {
  const wrap = h('div', {}, h('p', {}, link('#/workflows', '← All workflows')), h('h1', {}, name));
  wrap.append(section('Workflow', async () => {
    let w;
    try { w = await get('/workflows/' + encodeURIComponent(name)); } catch (e) { return errorState(e, 'workflow ' + name); }
    return h('div', {}, kv([
      ['Description', w.description], ['Enabled', badge(w.enabled ? 'enabled' : 'disabled')],
      ['Triggers', (w.triggers || []).map(t => t.text || t.kind).join('; ')], ['Steps', (w.steps || []).join(' → ')],
      ['Next scheduled run', w.next_run ? fmtTime(w.next_run) + ' (' + ago(w.next_run) + ')' : 'none'],
      ['Running / queued', w.running + ' / ' + w.queued], ['Succeeded / failed / cancelled', `${w.succeeded} / ${w.failed} / ${w.cancelled}`],
    ]));
  }));
  if (ctx.canWrite) wrap.append(runForm(name, ctx.query.get('run') === '1'));
  wrap.append(section('Executions', async () => {
    const rows = items(await get('/workflows/' + encodeURIComponent(name) + '/executions?limit=25'));
    return table(rows, [
      { label: 'Execution', get: r => link('#/executions/' + encodeURIComponent(r.id), r.id) },
      { label: 'Status', get: r => badge(r.status) },
      { label: 'Trigger', get: r => r.trigger && (r.trigger.kind + (r.trigger.actor ? ' by ' + r.trigger.actor : '')) },
      { label: 'Created', get: r => ago(r.created_at) },
      { label: 'Duration', get: r => dur(r.started_at, r.ended_at), class: 'num' },
      { label: 'Error', get: r => r.error ? r.error.message : '' },
    ], { class: 'stack', empty: 'This workflow has not run yet.', label: 'executions' });
  }));
  return wrap;
}

function runForm(name, open) {
  const ta = h('textarea', { id: 'run-context', name: 'context', 'aria-describedby': 'run-help', spellcheck: 'false' }, '{}');
  const err = h('p', { class: 'login-error', role: 'alert' });
  const form = h('form', { class: 'form-run', id: 'run-form' },
    h('label', { for: 'run-context' }, 'Context (JSON object, visible to steps as event.data)'), ta,
    h('p', { id: 'run-help', class: 'hint' }, 'Example: {"user_id": "u-42"}'), err,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary', id: 'run-submit', 'data-write': '' }, 'Run now')));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    let context;
    try { context = JSON.parse(ta.value || '{}'); if (typeof context !== 'object' || Array.isArray(context) || context === null) throw new Error('the context must be a JSON object'); }
    catch (e) { err.textContent = 'Invalid context: ' + e.message; ta.focus(); return; }
    err.textContent = '';
    try {
      const r = await post('/workflows/' + encodeURIComponent(name) + '/execute', { context });
      toast('Started ' + r.execution_id);
      location.hash = '#/executions/' + encodeURIComponent(r.execution_id);
    } catch (e) { err.textContent = e.message; }
  });
  const d = h('details', { class: 'card', open: open || undefined }, h('summary', {}, 'Run now with a context'), form);
  return d;
}
