// api.js: the REST client. The bearer token lives in sessionStorage and is
// sent only in the Authorization header, never in a URL.
const KEY = 'heady.token';
export const BASE = '/api/v1/automation';

export function token() { return sessionStorage.getItem(KEY) || ''; }
export function setToken(t) { t ? sessionStorage.setItem(KEY, t) : sessionStorage.removeItem(KEY); }

export class APIError extends Error {
  constructor(status, code, message, details) {
    super(message || code || ('HTTP ' + status));
    this.status = status; this.code = code; this.details = details;
  }
  get missing() { return this.status === 404 && this.code === 'not_found' && /no route/.test(this.message); }
}

function headers(extra) {
  const h = { Accept: 'application/json', ...extra };
  const t = token();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

export async function request(method, path, body, opts = {}) {
  let res;
  try {
    res = await fetch(BASE + path, {
      method, headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      body: body !== undefined ? JSON.stringify(body) : undefined, cache: 'no-store', signal: opts.signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new APIError(0, 'network', 'The host did not answer: ' + e.message);
  }
  const text = await res.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch { data = text; } }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    const e = new APIError(res.status, err.code || '', err.message || res.statusText, err.details);
    e.body = data;
    // /health answers 503 with a full body when the host is unhealthy.
    if (opts.acceptError && data && !data.error) return data;
    throw e;
  }
  return data;
}

export const get = (p, o) => request('GET', p, undefined, o);
export const post = (p, b) => request('POST', p, b === undefined ? {} : b);

// items normalises list answers: {items: [...]}, a bare array, or an object
// holding one array.
export function items(d) {
  if (!d) return [];
  if (Array.isArray(d)) return d;
  if (Array.isArray(d.items)) return d.items;
  for (const k of Object.keys(d)) if (Array.isArray(d[k])) return d[k];
  return [];
}

// stream reads GET /stream with fetch so that the Authorization header is
// used (EventSource cannot send one). onMessage gets {event, data};
// onState gets 'live' | 'connecting' | 'offline'. Returns a stop function.
export function stream(onMessage, onState) {
  let stopped = false, ctrl = null, delay = 1000;
  async function loop() {
    while (!stopped) {
      onState('connecting');
      ctrl = new AbortController();
      try {
        const res = await fetch(BASE + '/stream', { headers: headers({ Accept: 'text/event-stream' }), signal: ctrl.signal, cache: 'no-store' });
        if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
        onState('live'); delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i); buf = buf.slice(i + 2);
            let ev = 'message', data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) ev = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trim();
            }
            if (!data) continue;
            try { onMessage({ event: ev, data: JSON.parse(data) }); } catch (e) { console.error(e); }
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      if (stopped) return;
      onState('offline');
      onMessage({ event: 'resync', data: { reason: 'reconnect' } });
      await new Promise(r => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }
  loop();
  return () => { stopped = true; if (ctrl) ctrl.abort(); };
}
