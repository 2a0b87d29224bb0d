// The swimlanes: one row per ASGI layer (messages as arrows between them)
// and one per task (running, blocked, events), on a canvas with zoom (wheel,
// buttons) and pan (drag). Lane names are DOM elements next to it. A pane is
// one run's lanes; several panes (compare.js) share one view of one axis.
'use strict';

const ROW = 22;
const EVENT_COLORS = ['#7f8c8d', '#8e44ad', '#d35400', '#c0392b', '#27ae60', '#2c3e50', '#95a5a6'];
const EVENT_NAMES = ['note', 'cancellation', 'disconnect', 'error', 'spawn', 'finish', 'choice'];
const WAKE = ['notified', 'cancelled', 'timed out', 'never woken'];

// The run's flat arrays as per-row lists of items, and the axis.
function indexRun(run) {
  const S = run.strings;
  const rows = [{ kind: 'axis' }];
  const rowOfTask = new Map();
  const rowOfLayer = new Map();
  if (run.layers.length) rows.push({ kind: 'group', label: 'ASGI layers (server first)' });
  run.layers.forEach((name, k) => { rowOfLayer.set(k, rows.length); rows.push({ kind: 'layer', label: name }); });
  rows.push({ kind: 'group', label: 'tasks' });
  for (const task of run.tasks) {
    rowOfTask.set(task.id, rows.length);
    rows.push({ kind: 'task', task: task.id, label: '#' + task.id + ' ' + task.name });
  }
  for (const row of rows) { row.items = []; row.runs = []; row.blocks = []; }
  const taskRow = (id) => rows[rowOfTask.get(id)] || rows[0];
  const r = run.runs;
  for (let k = 0; k < r.length; k += 3) taskRow(r[k]).runs.push([r[k + 1], r[k + 2]]);
  const b = run.blocks;
  for (let k = 0; k < b.length; k += 5) {
    taskRow(b[k]).blocks.push({ from: b[k + 1], to: b[k + 2], text: 'blocked on ' + S[b[k + 3]] + '\n' +
                                (b[k + 4] === 3 ? 'never woken' : 'woken: ' + WAKE[b[k + 4]]), reason: b[k + 4] });
  }
  const e = run.events;
  for (let k = 0; k < e.length; k += 6) {
    const content = S[e[k + 4]];
    taskRow(e[k + 1]).items.push({ at: e[k], cls: e[k + 2], request: e[k + 5],
                                   text: EVENT_NAMES[e[k + 2]] + ': ' + S[e[k + 3]] + (content ? '\n' + content : '') });
  }
  const m = run.messages;
  const messages = [];
  for (let k = 0; k < m.length; k += 7) {
    const [at, task, from, to, type, content, request] = m.slice(k, k + 7);
    const text = S[type] + ' ' + run.layers[from] + ' -> ' + run.layers[to] + (request ? ' (request ' + request + ')' : '') +
                 '\non task #' + task + (S[content] ? '\n' + S[content] : '');
    const message = { at, from: rowOfLayer.get(from), to: rowOfLayer.get(to), request, text, cls: -1 };
    messages.push(message);
    rows[message.from].items.push(message);
    rows[message.to].items.push(message);
    taskRow(task).items.push(message);
  }
  for (const row of rows) row.items.sort((x, y) => x.at - y.at);
  const clockAt = run.clock.map((c) => c[0]);
  const clockTime = run.clock.map((c) => c[1]);
  const timeOf = (i) => clockTime[Math.max(0, upperBound(clockAt, i) - 1)] || 0;
  return { rows, messages, timeOf };
}

// The first index whose value is > x in a sorted array.
function upperBound(sorted, x) {
  let lo = 0, hi = sorted.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (sorted[mid] <= x) lo = mid + 1; else hi = mid; }
  return lo;
}

function formatNs(ns) {
  return (ns / 1e6).toFixed(ns % 1e6 === 0 ? 0 : 3) + ' ms';
}

// One run's lanes: its labels and canvas; drawn by a timeline (below) that
// gives it `axis`: pos(record) on the shared axis, label(world) for a tick.
function makePane(run, violation, title) {
  const { rows, messages, timeOf } = indexRun(run);
  const n = Math.max(run.records, 1);
  const pane = { run, rows, messages, timeOf, n, violation, axis: null, px: null, width: 800, marks: [] };
  pane.labels = el('div', { className: 'labels' });
  pane.canvasBox = el('div', { className: 'canvas-box' });
  pane.canvas = el('canvas');
  pane.canvasBox.appendChild(pane.canvas);
  pane.marker = el('div', { className: 'violation-marker' });
  if (violation) {
    pane.marker.dataset.invariant = violation.invariant;
    pane.marker.title = 'violation: ' + violation.invariant + ' (layer ' + violation.layer + ')';
    pane.canvasBox.appendChild(pane.marker);
  }
  for (const row of rows) {
    const label = el('div', { className: 'lane-label ' + row.kind },
                     row.kind === 'axis' ? (title || 'virtual time') : row.label);
    if (row.kind === 'task') label.dataset.task = row.task;
    if (row.kind === 'layer') {
      label.dataset.layer = row.label;
      if (violation && row.label === violation.layer) label.classList.add('blamed');
    }
    label.title = label.textContent;
    pane.labels.appendChild(label);
  }
  pane.draw = () => drawPane(pane);
  pane.hoverText = (y, x) => {
    const row = rows[Math.floor(y / ROW)];
    if (!row || row.kind === 'axis') return '';
    const lines = [];
    for (const item of row.items) {
      if (Math.abs(pane.px(item.at) - x) <= 4) lines.push(item.text + '\nat ' + formatNs(timeOf(item.at)) + ', step #' + item.at);
      if (lines.length >= 6) break;
    }
    for (const block of row.blocks) {
      if (!lines.length && pane.px(block.from) <= x && x <= pane.px(block.to)) lines.push(block.text);
    }
    return lines.join('\n\n');
  };
  return pane;
}

// The axes of a pane alone: one step per unit, or linear virtual time.
function ownAxis(pane, byTime) {
  if (byTime) return { pos: pane.timeOf, label: (world) => formatNs(world) };
  return { pos: (i) => i, label: (world) => formatNs(pane.timeOf(Math.floor(world))) + ' #' + Math.floor(world) };
}

function drawPane(pane) {
  const { rows, messages, violation, canvas, width, px } = pane;
  const height = rows.length * ROW;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = width * ratio; canvas.height = height * ratio;
  canvas.style.width = width + 'px'; canvas.style.height = height + 'px';
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  g.font = '11px system-ui, sans-serif';
  rows.forEach((row, k) => drawRow(g, pane, row, k * ROW));
  for (const message of messages) {
    const x = px(message.at);
    if (x < -2 || x > width + 2) continue;
    const hot = violation && violation.request && message.request === violation.request;
    arrow(g, x, message.from * ROW + ROW / 2, message.to * ROW + ROW / 2, hot ? '#c0392b' : '#16a085');
  }
  g.fillStyle = '#fff'; g.fillRect(0, 0, width, ROW);
  g.fillStyle = '#666';
  const ticks = Math.max(2, Math.floor(width / 120));
  for (let k = 0; k < ticks; k++) {
    const x = (k / ticks) * width;
    g.fillRect(x, ROW - 5, 1, 5);
    g.fillText(pane.axis.label(pane.world(x)), Math.min(x + 2, width - 110), ROW - 8);
  }
  if (violation) {
    const x = px(violation.at);
    pane.marker.style.left = Math.round(x - 1) + 'px';
    pane.marker.hidden = x < 0 || x > width;
    g.fillStyle = 'rgba(192,57,43,0.9)';
    g.fillRect(x - 1, 0, 2, height);
    g.fillStyle = '#fff';
    const label = g.measureText(violation.invariant).width + 8;
    const left = x + label > width ? x - label : x;
    g.fillRect(left, 0, label, ROW - 6);
    g.fillStyle = '#c0392b';
    g.fillText(violation.invariant, left + 4, ROW - 10);
  }
  if (pane.overlay) pane.overlay(g, height);
}

function drawRow(g, pane, row, y) {
  const { width, px } = pane;
  if (row.kind === 'group') { g.fillStyle = '#f4f4f4'; g.fillRect(0, y, width, ROW); return; }
  g.fillStyle = '#f0f0f0'; g.fillRect(0, y + ROW - 1, width, 1);
  for (const block of row.blocks) {
    const x0 = Math.max(px(block.from), -1), x1 = Math.min(px(block.to), width + 1);
    if (x1 < 0 || x0 > width) continue;
    g.fillStyle = block.reason === 3 ? 'rgba(192,57,43,0.25)' : '#f3d9a4';
    g.fillRect(x0, y + 4, Math.max(x1 - x0, 1), ROW - 8);
    if (x1 - x0 > 80) {
      g.fillStyle = '#7a5a1a';
      g.save(); g.beginPath(); g.rect(x0, y, x1 - x0, ROW); g.clip();
      g.fillText(block.text.split('\n')[0], x0 + 3, y + ROW - 7);
      g.restore();
    }
  }
  g.fillStyle = '#4a90d9';
  let lastX = -10;
  for (const [from, to] of row.runs) {
    const x0 = px(from), x1 = px(to);
    if (x1 < 0 || x0 > width) continue;
    if (x1 - x0 < 1 && x0 - lastX < 1) continue;  // many runs in one pixel: drawn once
    g.fillRect(x0, y + 7, Math.max(x1 - x0, 1), ROW - 14);
    lastX = x0;
  }
  for (const item of row.items) {
    if (item.cls < 0) continue;  // messages are drawn as arrows
    const x = px(item.at);
    if (x < -4 || x > width + 4) continue;
    g.fillStyle = EVENT_COLORS[item.cls];
    const size = item.cls === 1 || item.cls === 2 || item.cls === 3 ? 5 : 3;
    g.beginPath(); g.moveTo(x, y + ROW / 2 - size); g.lineTo(x + size, y + ROW / 2);
    g.lineTo(x, y + ROW / 2 + size); g.lineTo(x - size, y + ROW / 2); g.fill();
  }
}

function arrow(g, x, y0, y1, color) {
  g.strokeStyle = color; g.fillStyle = color; g.lineWidth = 1.5;
  g.beginPath(); g.moveTo(x, y0); g.lineTo(x, y1); g.stroke();
  const d = y1 > y0 ? -5 : 5;
  g.beginPath(); g.moveTo(x, y1); g.lineTo(x - 3.5, y1 + d); g.lineTo(x + 3.5, y1 + d); g.fill();
}

function renderLanes(run, violation) {
  return renderTimeline([makePane(run, violation)], {});
}

// Panes on one axis, one above the other (each pane, or `between` a pair of
// them, is a grid row: the labels share one column, so x is the same point
// of the axis in every pane). options: axes(byTime) -> an axis per pane
// (default: each its own), between(k) -> {label, box, draw(width, view)} for
// a row between pane k and k + 1, buttons: [[text, (show, axes) => ...]].
function renderTimeline(panes, options) {
  const box = el('div', { className: 'lanes' });
  const toolbar = el('div', { className: 'toolbar' });
  const timeline = el('div', { className: 'timeline' });
  const strips = [];
  panes.forEach((pane, k) => {
    timeline.append(pane.labels, pane.canvasBox);
    const strip = k + 1 < panes.length && options.between ? options.between(k) : null;
    if (strip) { strips.push(strip); timeline.append(strip.label, strip.box); }
  });
  const view = { from: 0, to: 1, byTime: false };
  let width = 800;
  const setAxes = () => {
    const axes = options.axes ? options.axes(view.byTime) : panes.map((pane) => ownAxis(pane, view.byTime));
    panes.forEach((pane, k) => { pane.axis = axes[k]; });
  };
  const worldEnd = () => Math.max(1, ...panes.map((pane) => pane.axis.pos(pane.n - 1) + (view.byTime ? 0 : 1)));
  const draw = () => {
    width = Math.max(panes[0].canvasBox.clientWidth, 200);
    const scale = width / (view.to - view.from);
    for (const pane of panes) {
      pane.width = width;
      pane.px = (i) => (pane.axis.pos(i) - view.from) * scale;
      pane.world = (x) => view.from + (x / width) * (view.to - view.from);
      pane.toX = (world) => (world - view.from) * scale;
      pane.draw();
    }
    for (const strip of strips) strip.draw(width, (world) => (world - view.from) * scale);
  };
  const zoom = (factor, atX) => {
    const span = view.to - view.from;
    const anchor = view.from + (atX / width) * span;
    const next = Math.min(Math.max(span * factor, 4), worldEnd() * 1.05);
    view.from = anchor - ((anchor - view.from) / span) * next;
    view.to = view.from + next;
    draw();
  };
  const show = (from, to) => { view.from = from; view.to = to; draw(); };
  const button = (text, action) => { const b = el('button', {}, text); b.type = 'button'; b.onclick = action; return b; };
  // Centres the view on `world`, a point of the axis.
  const goTo = (world) => {
    const span = view.byTime ? Math.max(worldEnd() / 50, 1000) : 200;
    show(world - span / 2, world + span / 2);
  };
  toolbar.append(
    button('Fit', () => show(0, worldEnd())),
    button('Zoom in', () => zoom(0.5, width / 2)),
    button('Zoom out', () => zoom(2, width / 2)));
  const withViolation = panes.find((pane) => pane.violation);
  if (withViolation) {
    toolbar.append(button('Go to the violation', () => goTo(withViolation.axis.pos(withViolation.violation.at))));
  }
  for (const [text, where] of options.buttons || []) toolbar.append(button(text, () => goTo(where())));
  const axisName = (byTime) => (byTime ? 'linear virtual time' : 'one step per unit') + (options.axes ? ', aligned' : '');
  const axis = button('Axis: ' + axisName(false), () => {
    view.byTime = !view.byTime;
    axis.textContent = 'Axis: ' + axisName(view.byTime);
    setAxes();
    show(0, worldEnd());
  });
  toolbar.append(axis, el('span', { className: 'hint' }, 'wheel: zoom, drag: pan, hover: details'));
  const legend = el('div', { className: 'legend' });
  const swatch = (color, text) => { const s = el('span', {}, text); s.style.setProperty('--c', color); return s; };
  legend.append(swatch('#4a90d9', 'running'), swatch('#f3d9a4', 'blocked (hover: on what)'),
                swatch('rgba(192,57,43,0.4)', 'blocked to the end'), swatch('#16a085', 'ASGI message'),
                ...EVENT_NAMES.map((name, k) => swatch(EVENT_COLORS[k], name)), swatch('#c0392b', 'violation'),
                ...(options.legend || []).map(([color, text]) => swatch(color, text)));
  let drag = null;
  const move = (event, pane) => {
    if (drag) {
      const shift = ((event.clientX - drag.x) / width) * (drag.to - drag.from);
      show(drag.from - shift, drag.to - shift);
      return;
    }
    const text = pane ? pane.hoverText(event.offsetY, event.offsetX) : '';
    tip.hidden = !text;
    if (!text) return;
    tip.textContent = text;
    tip.style.left = Math.min(event.clientX + 12, window.innerWidth - 380) + 'px';
    tip.style.top = event.clientY + 14 + 'px';
  };
  const targets = [...panes.map((pane) => [pane.canvasBox, pane]), ...strips.map((strip) => [strip.box, null])];
  for (const [target, pane] of targets) {
    target.addEventListener('wheel', (event) => {
      event.preventDefault();
      zoom(event.deltaY > 0 ? 1.25 : 0.8, event.offsetX);
    }, { passive: false });
    target.addEventListener('mousedown', (event) => { drag = { x: event.clientX, from: view.from, to: view.to }; });
    target.addEventListener('mouseleave', () => { tip.hidden = true; });
    target.addEventListener('mousemove', (event) => move(event, pane));
  }
  window.addEventListener('mouseup', () => { drag = null; });
  window.addEventListener('resize', draw);
  box.append(toolbar, legend, timeline);
  setAxes();
  view.to = worldEnd();
  return { box, draw };
}
