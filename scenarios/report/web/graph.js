// The wait-for graph of a stopped run: who waits on what, held by whom,
// laid out by dagre (bundled at build time), the first cycle marked.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return node;
}

// The first cycle of the graph (task -> tasks it waits for), as task ids.
function findCycle(edges) {
  const color = new Map();
  const path = [];
  let cycle = [];
  const visit = (node) => {
    color.set(node, 1);
    path.push(node);
    for (const next of edges.get(node) || []) {
      if (color.get(next) === 1) {
        cycle = path.slice(path.indexOf(next));
        return true;
      }
      if (!color.has(next) && edges.has(next) && visit(next)) return true;
    }
    path.pop();
    color.set(node, 2);
    return false;
  };
  for (const node of [...edges.keys()].sort((a, b) => a - b)) {
    if (!color.has(node) && visit(node)) break;
  }
  return cycle;
}

function taskLabel(run, id) {
  const task = (run.trace ? run.trace.tasks : []).find((t) => t.id === id) || run.blocked.find((b) => b.task === id);
  return '#' + id + ' ' + (task ? task.name : '?');
}

function renderWaitForGraph(run) {
  const box = el('div', { className: 'graph' });
  const edges = new Map();
  for (const b of run.blocked) edges.set(b.task, b.held_by);
  const cycle = findCycle(edges);
  const inCycle = new Set(cycle);
  const cycleEdge = (from, to) => {
    const k = cycle.indexOf(from);
    return k >= 0 && cycle[(k + 1) % cycle.length] === to;
  };
  box.dataset.cycle = cycle.join(',');
  box.appendChild(el('h2', {}, cycle.length ? 'Wait-for graph (the cycle in red)' : 'Wait-for graph'));
  box.appendChild(el('p', {}, 'An arrow goes from a blocked task to the task that holds what it waits on.'));
  if (typeof dagre === 'undefined') {
    box.dataset.layout = 'none';
    const list = el('ul');
    for (const b of run.blocked) {
      const holders = b.held_by.map((h) => taskLabel(run, h)).join(', ');
      const item = el('li', {}, taskLabel(run, b.task) + ' waits on ' + b.waits_on +
                                 (holders ? ' held by ' + holders : ''));
      if (inCycle.has(b.task)) item.className = 'in-cycle';
      list.appendChild(item);
    }
    box.appendChild(list);
    return box;
  }
  box.dataset.layout = 'dagre';
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 30, ranksep: 70, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  const nodeText = new Map();
  const addNode = (id, lines) => {
    if (nodeText.has(id)) return;
    nodeText.set(id, lines);
    const width = Math.max(...lines.map((line) => line.length)) * 6.6 + 16;
    g.setNode(String(id), { width, height: 18 * lines.length + 10 });
  };
  for (const b of run.blocked) {
    addNode(b.task, [taskLabel(run, b.task) + (b.thread ? ' [thread]' : '') + (b.daemon ? ' [daemon]' : ''),
                     'waits on ' + b.waits_on]);
  }
  for (const b of run.blocked) {
    for (const h of b.held_by) {
      addNode(h, [taskLabel(run, h), 'not blocked']);
      g.setEdge(String(b.task), String(h));
    }
  }
  dagre.layout(g);
  const size = g.graph();
  const svg = svgEl('svg', { width: size.width, height: size.height, viewBox: '0 0 ' + size.width + ' ' + size.height });
  const defs = svgEl('defs');
  for (const [id, color] of [['arrow', '#888'], ['arrow-cycle', '#c0392b']]) {
    const marker = svgEl('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
                                     orient: 'auto' });
    marker.appendChild(svgEl('path', { d: 'M0,0 L10,5 L0,10 z', fill: color }));
    defs.appendChild(marker);
  }
  svg.appendChild(defs);
  for (const e of g.edges()) {
    const marked = cycleEdge(Number(e.v), Number(e.w));
    const group = svgEl('g', { class: 'edge' + (marked ? ' in-cycle' : '') });
    group.dataset.from = e.v;
    group.dataset.to = e.w;
    const d = g.edge(e).points.map((p, k) => (k ? 'L' : 'M') + p.x.toFixed(1) + ',' + p.y.toFixed(1)).join(' ');
    group.appendChild(svgEl('path', { d, 'marker-end': marked ? 'url(#arrow-cycle)' : 'url(#arrow)' }));
    svg.appendChild(group);
  }
  for (const id of g.nodes()) {
    const node = g.node(id);
    const group = svgEl('g', { class: 'node' + (inCycle.has(Number(id)) ? ' in-cycle' : '') });
    group.dataset.task = id;
    group.appendChild(svgEl('rect', { x: node.x - node.width / 2, y: node.y - node.height / 2, width: node.width,
                                      height: node.height, rx: 4 }));
    nodeText.get(Number(id)).forEach((line, k) => {
      const text = svgEl('text', { x: node.x - node.width / 2 + 8, y: node.y - node.height / 2 + 18 + 18 * k });
      text.textContent = line;
      group.appendChild(text);
    });
    svg.appendChild(group);
  }
  box.appendChild(svg);
  return box;
}
