// app.js: the dashboard shell: login, navigation, hash router and the live
// stream. Each page is one module under pages/.
import * as api from './api.js';
import { h, clear, toast, debounce, pendingLoads } from './ui.js';

const PAGES = [
  ['overview', 'Overview'], ['workflows', 'Workflows'], ['executions', 'Executions'], ['health', 'Health'],
  ['scaling', 'Scaling'], ['discovery', 'Discovery'], ['audit', 'Audit'], ['intelligence', 'Intelligence'],
  ['plugins', 'Plugins'], ['policies', 'Policies'],
];

const state = { me: null, page: null, route: null, liveState: 'offline', stopStream: null, seq: 0 };
window.__heady = state;

function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const name = PAGES.some(p => p[0] === parts[0]) ? parts[0] : 'overview';
  return { name, params: parts.slice(1), query: new URLSearchParams(query || '') };
}

async function boot() {
  window.addEventListener('hashchange', () => navigate());
  try {
    state.me = await api.get('/whoami');
  } catch (e) {
    if (e.status === 401 || e.status === 403) { api.setToken(''); return showLogin(api.token() ? 'Your token was refused.' : ''); }
    return showLogin(e.message);
  }
  if (state.me.kind === 'anonymous' && !sessionStorage.getItem('heady.anon')) return showLogin('');
  showShell();
}

function showLogin(message) {
  const root = clear(document.getElementById('root'));
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false', 'aria-describedby': 'token-help' });
  const err = h('p', { id: 'login-error', class: 'login-error', role: 'alert' }, message || '');
  const form = h('form', { class: 'login', id: 'login-form', 'aria-labelledby': 'login-title' },
    h('div', { class: 'brand big' }, logo(), h('span', {}, 'Heady')),
    h('h1', { id: 'login-title' }, 'Sign in'),
    h('label', { for: 'token' }, 'API token'), input,
    h('p', { id: 'token-help', class: 'hint' }, 'Paste a token from `heady token create` or the bootstrap token. It is kept in this tab only.'),
    err,
    h('button', { type: 'submit', class: 'btn primary', id: 'login-submit' }, 'Sign in'),
    h('button', { type: 'button', class: 'btn link', id: 'login-anon', onclick: async () => {
      api.setToken('');
      try { state.me = await api.get('/whoami'); sessionStorage.setItem('heady.anon', '1'); showShell(); }
      catch (e) { err.textContent = 'Anonymous reading is not allowed here: ' + e.message; }
    } }, 'Continue read-only without a token'));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const t = input.value.trim();
    if (!t) { err.textContent = 'Enter a token.'; return; }
    api.setToken(t);
    try {
      state.me = await api.get('/whoami');
      if (state.me.kind !== 'token') throw new Error('the host did not accept the token');
      sessionStorage.removeItem('heady.anon');
      showShell();
    } catch (e) {
      api.setToken('');
      err.textContent = e.status === 401 ? 'That token is not valid.' : e.message;
      input.focus();
    }
  });
  root.append(h('main', { id: 'main', class: 'login-wrap' }, form));
  input.focus();
}

function logo() {
  const n = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  n.setAttribute('viewBox', '0 0 32 32'); n.setAttribute('class', 'logo'); n.setAttribute('aria-hidden', 'true');
  n.innerHTML = '<rect width="32" height="32" rx="7" fill="currentColor"/><path d="M9 8v16M23 8v16M9 16h14" stroke="#fff" stroke-width="3.5" stroke-linecap="round"/>';
  return n;
}

export function canWrite() { return !!state.me && (state.me.role === 'operator' || state.me.role === 'admin'); }

function showShell() {
  const root = clear(document.getElementById('root'));
  const nav = h('nav', { id: 'nav', 'aria-label': 'Sections' }, h('ul', {}, PAGES.map(([id, label]) =>
    h('li', {}, h('a', { href: '#/' + id, 'data-page': id }, label)))));
  const menu = h('button', { type: 'button', class: 'btn menu', 'aria-controls': 'nav', 'aria-expanded': 'false', onclick: () => {
    const open = document.body.classList.toggle('nav-open'); menu.setAttribute('aria-expanded', String(open));
  } }, 'Menu');
  const live = h('span', { id: 'live', class: 'live offline', role: 'status', 'aria-live': 'polite' }, 'offline');
  const who = h('span', { class: 'who', id: 'who' }, state.me.name, ' · ', h('strong', { id: 'role' }, state.me.role));
  const out = h('button', { type: 'button', class: 'btn link', id: 'logout', onclick: () => {
    api.setToken(''); sessionStorage.removeItem('heady.anon'); if (state.stopStream) state.stopStream(); location.hash = ''; location.reload();
  } }, state.me.kind === 'token' ? 'Sign out' : 'Sign in');
  root.append(
    h('header', { class: 'top' }, menu, h('a', { class: 'brand', href: '#/overview' }, logo(), h('span', {}, 'Heady')), h('div', { class: 'spacer' }), live, who, out),
    nav,
    h('main', { id: 'main', tabindex: '-1' }));
  document.body.classList.toggle('can-write', canWrite());
  state.stopStream = api.stream(onStream, s => {
    state.liveState = s; live.className = 'live ' + s; live.textContent = s;
  });
  navigate();
}

const refresh = debounce(() => render(true), 400);

function onStream(msg) {
  if (msg.event === 'resync') { refresh(); return; }
  const p = state.page;
  if (!p) return;
  if (p.onStream) { if (p.onStream(msg, ctx()) === true) refresh(); return; }
  if (p.live && p.live(msg, ctx())) refresh();
}

function ctx() {
  return { me: state.me, canWrite: canWrite(), params: state.route.params, query: state.route.query, refresh: () => render(true), pending: pendingLoads };
}

async function navigate() {
  document.body.classList.remove('nav-open');
  state.route = parseRoute();
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === state.route.name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  await render(false);
}

async function render(isRefresh) {
  const main = document.getElementById('main');
  if (!main || !state.route) return;
  if (isRefresh && main.contains(document.activeElement) && /INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) return;
  const seq = ++state.seq;
  const route = state.route;
  let mod;
  try { mod = await import('./pages/' + route.name + '.js'); }
  catch (e) { clear(main).append(h('p', { class: 'state error' }, 'Could not load the page: ' + e.message)); return; }
  if (seq !== state.seq) return;
  state.page = mod;
  if (!isRefresh) { main.removeAttribute('data-ready'); clear(main).append(h('div', { class: 'state loading', 'aria-busy': 'true' }, 'Loading…')); }
  pendingLoads.length = 0;
  let node;
  try { node = await mod.render(ctx()); } catch (e) { node = h('div', { class: 'state error', role: 'alert' }, 'This page failed: ' + e.message); }
  await Promise.allSettled(pendingLoads.slice());
  if (seq !== state.seq) return;
  const y = window.scrollY;
  clear(main).append(node);
  main.setAttribute('data-ready', route.name);
  if (isRefresh) window.scrollTo(0, y);
  else {
    document.title = (mod.title || route.name) + ' · Heady';
    main.focus({ preventScroll: true });
  }
}

window.addEventListener('unhandledrejection', e => { if (e.reason && e.reason.name !== 'AbortError') toast(String(e.reason.message || e.reason), 'bad'); });
boot();
