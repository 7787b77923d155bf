// graph.js: an interactive topology graph: a small force layout drawn in
// SVG, with drag (pointer), zoom (wheel, buttons, + and - keys) and
// keyboard-focusable vertices.
import { h, s } from './ui.js';

const W = 760, H = 420;

function layout(vs, es) {
  const n = vs.length, idx = new Map(vs.map((v, i) => [v.id, i]));
  const pos = vs.map((v, i) => ({ x: W / 2 + Math.cos(i * 2.399) * (40 + 12 * Math.sqrt(i) * 10), y: H / 2 + Math.sin(i * 2.399) * (40 + 12 * Math.sqrt(i) * 6), vx: 0, vy: 0 }));
  const links = es.map(e => [idx.get(e.from), idx.get(e.to)]).filter(([a, b]) => a !== undefined && b !== undefined);
  const k = Math.sqrt((W * H) / Math.max(n, 1)) * 0.55;
  for (let it = 0; it < 300; it++) {
    const temp = 1 - it / 300;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      let dx = pos[i].x - pos[j].x, dy = pos[i].y - pos[j].y, d2 = dx * dx + dy * dy || 0.01;
      const f = (k * k) / d2;
      pos[i].vx += dx * f * 0.05; pos[i].vy += dy * f * 0.05; pos[j].vx -= dx * f * 0.05; pos[j].vy -= dy * f * 0.05;
    }
    for (const [a, b] of links) {
      const dx = pos[b].x - pos[a].x, dy = pos[b].y - pos[a].y, d = Math.sqrt(dx * dx + dy * dy) || 0.01;
      const f = (d - k) / d * 0.08;
      pos[a].vx += dx * f; pos[a].vy += dy * f; pos[b].vx -= dx * f; pos[b].vy -= dy * f;
    }
    for (const p of pos) {
      p.vx += (W / 2 - p.x) * 0.005; p.vy += (H / 2 - p.y) * 0.005;
      const sp = Math.sqrt(p.vx * p.vx + p.vy * p.vy), max = 20 * temp + 0.5;
      if (sp > max) { p.vx *= max / sp; p.vy *= max / sp; }
      p.x = Math.min(W - 30, Math.max(30, p.x + p.vx)); p.y = Math.min(H - 20, Math.max(20, p.y + p.vy));
      p.vx *= 0.6; p.vy *= 0.6;
    }
  }
  return { pos, links, idx };
}

const badStates = /dead|down|unhealthy|failed|critical|lost/i, warnStates = /suspect|degraded|stale|unknown/i;

// topology({vertices:[{id, name, kind, state}], edges:[{from, to, kind}]}, onSelect)
export function topology(t, onSelect) {
  const vs = t.vertices || [], es = t.edges || [];
  if (!vs.length) return h('div', { class: 'state empty' }, h('p', {}, 'No nodes or services registered yet.'));
  const { pos, links } = layout(vs, es);
  let view = { x: 0, y: 0, k: 1 };
  const g = s('g', {});
  const lines = links.map(([a, b]) => s('line', { class: 'edge', x1: pos[a].x, y1: pos[a].y, x2: pos[b].x, y2: pos[b].y }));
  const verts = vs.map((v, i) => {
    const st = v.state || '';
    const cls = 'vertex ' + (v.kind || 'node') + (badStates.test(st) ? ' bad' : warnStates.test(st) ? ' warn' : '');
    const el = s('g', { class: cls, tabindex: '0', role: 'button', 'aria-label': `${v.kind || 'node'} ${v.name || v.id}${st ? ', ' + st : ''}`, transform: `translate(${pos[i].x},${pos[i].y})` },
      s('title', {}, `${v.name || v.id} (${v.kind || 'node'}${st ? ', ' + st : ''})`),
      s('circle', { r: v.kind === 'service' ? 9 : 13 }),
      s('text', { x: 16, y: 4 }, v.name || v.id));
    el.addEventListener('keydown', e => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onSelect && onSelect(v); }
      const d = { ArrowLeft: [-10, 0], ArrowRight: [10, 0], ArrowUp: [0, -10], ArrowDown: [0, 10] }[e.key];
      if (d) { e.preventDefault(); pos[i].x += d[0]; pos[i].y += d[1]; redraw(); }
    });
    el.addEventListener('pointerdown', e => {
      e.preventDefault(); e.stopPropagation(); el.setPointerCapture(e.pointerId);
      const start = toSvg(e); const ox = pos[i].x, oy = pos[i].y; let moved = false;
      const move = ev => { const p = toSvg(ev); pos[i].x = ox + (p.x - start.x) / view.k; pos[i].y = oy + (p.y - start.y) / view.k; moved = true; redraw(); };
      const up = () => { el.removeEventListener('pointermove', move); el.removeEventListener('pointerup', up); if (!moved && onSelect) onSelect(v); };
      el.addEventListener('pointermove', move); el.addEventListener('pointerup', up);
    });
    return el;
  });
  g.append(...lines, ...verts);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'group', 'aria-label': `topology: ${vs.length} vertices, ${links.length} connections` }, g);
  function toSvg(e) { const r = svg.getBoundingClientRect(); return { x: (e.clientX - r.left) * W / r.width, y: (e.clientY - r.top) * H / r.height }; }
  function redraw() {
    links.forEach(([a, b], j) => { const l = lines[j]; l.setAttribute('x1', pos[a].x); l.setAttribute('y1', pos[a].y); l.setAttribute('x2', pos[b].x); l.setAttribute('y2', pos[b].y); });
    verts.forEach((el, i) => el.setAttribute('transform', `translate(${pos[i].x},${pos[i].y})`));
    g.setAttribute('transform', `translate(${view.x},${view.y}) scale(${view.k})`);
  }
  function zoom(f, cx = W / 2, cy = H / 2) {
    const k = Math.min(4, Math.max(0.3, view.k * f)); view.x = cx - (cx - view.x) * k / view.k; view.y = cy - (cy - view.y) * k / view.k; view.k = k; redraw();
  }
  svg.addEventListener('wheel', e => { e.preventDefault(); const p = toSvg(e); zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15, p.x, p.y); }, { passive: false });
  svg.addEventListener('pointerdown', e => {
    const start = toSvg(e), ox = view.x, oy = view.y; svg.setPointerCapture(e.pointerId);
    const move = ev => { const p = toSvg(ev); view.x = ox + p.x - start.x; view.y = oy + p.y - start.y; redraw(); };
    const up = () => { svg.removeEventListener('pointermove', move); svg.removeEventListener('pointerup', up); };
    svg.addEventListener('pointermove', move); svg.addEventListener('pointerup', up);
  });
  const wrap = h('div', { class: 'graph', tabindex: '0', 'aria-label': 'Topology graph. Tab to a vertex, Enter for details, arrow keys move it, + and - zoom.' }, svg);
  wrap.addEventListener('keydown', e => { if (e.key === '+' || e.key === '=') zoom(1.2); if (e.key === '-') zoom(1 / 1.2); });
  const controls = h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'btn', onclick: () => zoom(1.2), 'aria-label': 'Zoom in' }, '+'),
    h('button', { type: 'button', class: 'btn', onclick: () => zoom(1 / 1.2), 'aria-label': 'Zoom out' }, '−'),
    h('button', { type: 'button', class: 'btn', onclick: () => { view = { x: 0, y: 0, k: 1 }; redraw(); } }, 'Reset view'));
  return h('div', {}, controls, wrap);
}
