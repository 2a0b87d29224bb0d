// Two runs of one seed (`--compare fixed`) one above the other, aligned on
// their clients' events. compare.cpp matched the k-th event of each client
// in one run with its k-th in the other and chose the anchors (the pairs in
// the same order in both runs); here each run is stretched piecewise-linearly
// between the anchors onto one shared axis (a stretch between two anchors is
// as long as the longer run's), so that every anchor is at one x in both
// panes. The matched events are connected between the panes, and the place
// where the runs part is marked in both.
'use strict';

const PARTING = '#d81b60';
const PAIRED = '#16a085';

// The maps of a piecewise-linear warp through the anchors: at[k][j] is anchor
// j in run k's coordinates (increasing); pos[k] maps run k to the shared
// axis, inverse[k] back. Past the last anchor, one unit per unit.
function makeWarp(at) {
  const u = [0];
  for (let j = 1; j < at[0].length; j++) {
    u.push(u[j - 1] + Math.max(at[0][j] - at[0][j - 1], at[1][j] - at[1][j - 1]));
  }
  const map = (from, to) => (x) => {
    const j = Math.max(0, upperBound(from, x) - 1);
    if (j + 1 >= from.length) return to[j] + (x - from[j]);
    const span = from[j + 1] - from[j];
    return span <= 0 ? to[j] : to[j] + ((x - from[j]) * (to[j + 1] - to[j])) / span;
  };
  return { pos: [map(at[0], u), map(at[1], u)], inverse: [map(u, at[0]), map(u, at[1])] };
}

// A run's own coordinate of a record: its step, or its virtual time plus one
// nanosecond per record (as the Chrome trace's display timestamps), so that
// records at one virtual time stay apart and in order.
function baseOf(pane, byTime) {
  return byTime ? (i) => pane.timeOf(i) + i : (i) => i;
}

// The record at a run's own coordinate `b` (the inverse of baseOf).
function recordAt(pane, byTime, b) {
  if (!byTime) return Math.floor(b);
  const base = baseOf(pane, true);
  let lo = 0, hi = pane.n;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (base(mid) <= b) lo = mid + 1; else hi = mid; }
  return Math.max(lo - 1, 0);
}

function renderCompare(runs, compare, violations) {
  const labels = compare.labels;
  const panes = runs.map((run, k) => makePane(run.trace, violations[k], labels[k] + ' run'));
  const p = compare.pairs;
  const pairs = [];
  for (let k = 0; k < p.length; k += 4) pairs.push({ at: [p[k], p[k + 1]], anchor: p[k + 2] === 1, kind: p[k + 3] });
  const anchors = pairs.filter((pair) => pair.anchor);
  const parting = compare.divergence;
  let warp = null;
  const axes = (byTime) => {
    const bases = panes.map((pane) => baseOf(pane, byTime));
    warp = makeWarp([0, 1].map((k) => [bases[k](0), ...anchors.map((pair) => bases[k](pair.at[k]))]));
    return panes.map((pane, k) => ({
      pos: (i) => warp.pos[k](bases[k](i)),
      label: (world) => {
        const b = warp.inverse[k](world);
        if (b > bases[k](pane.n - 1) + 1) return '';  // past the run's end
        const i = recordAt(pane, byTime, b);
        return formatNs(pane.timeOf(i)) + ' #' + i;
      },
    }));
  };
  // Where the runs part on the shared axis: the earlier of the two events
  // (a run that never has its event is marked at the other's).
  const partingAt = () => Math.min(...[0, 1].filter((k) => parting[k ? 'b' : 'a'] >= 0)
    .map((k) => panes[k].axis.pos(parting[k ? 'b' : 'a'])));
  // Its x in pane k: at the run's own event, else where the other run's is.
  const partingX = (k) => {
    const own = parting[k ? 'b' : 'a'];
    return own >= 0 ? panes[k].px(own) : panes[k].toX(partingAt());
  };
  panes.forEach((pane, k) => {
    const marks = anchors.map((pair, j) => {
      const mark = el('div', { className: 'client-mark' });
      mark.dataset.pair = j;
      mark.dataset.run = k;
      pane.canvasBox.appendChild(mark);
      return mark;
    });
    const partingMark = parting ? el('div', { className: 'divergence-marker' }) : null;
    if (partingMark) {
      partingMark.dataset.run = k;
      partingMark.dataset.kind = parting.kind;
      partingMark.title = parting.text;
      pane.canvasBox.appendChild(partingMark);
    }
    pane.overlay = (g, height) => {
      const left = pane.canvasBox.getBoundingClientRect().left;
      anchors.forEach((pair, j) => {
        const x = pane.px(pair.at[k]);
        marks[j].hidden = x < 0 || x > pane.width;
        marks[j].style.left = Math.round(x - 1) + 'px';
        marks[j].dataset.pageX = (left + x).toFixed(1);
      });
      if (!partingMark) return;
      const own = parting[k ? 'b' : 'a'];
      const x = partingX(k);
      partingMark.hidden = x < 0 || x > pane.width;
      partingMark.style.left = Math.round(x - 1) + 'px';
      partingMark.dataset.pageX = (left + x).toFixed(1);
      g.strokeStyle = PARTING; g.lineWidth = 2; g.setLineDash([6, 4]);
      g.beginPath(); g.moveTo(x, 0); g.lineTo(x, height); g.stroke();
      g.setLineDash([]);
      const text = own >= 0 ? 'the runs part here' : 'never happens in this run';
      const w = g.measureText(text).width + 8;
      const at = x + w > pane.width ? x - w : x;
      g.fillStyle = '#fff'; g.fillRect(at, ROW, w, ROW - 6);
      g.fillStyle = PARTING; g.fillText(text, at + 4, 2 * ROW - 10);
    };
  });
  const strip = {
    label: el('div', { className: 'lane-label strip' }, 'client events matched'),
    box: el('div', { className: 'canvas-box strip' }),
    canvas: el('canvas'),
  };
  strip.box.appendChild(strip.canvas);
  strip.draw = (width) => {
    const height = 2 * ROW;
    const ratio = window.devicePixelRatio || 1;
    strip.canvas.width = width * ratio; strip.canvas.height = height * ratio;
    strip.canvas.style.width = width + 'px'; strip.canvas.style.height = height + 'px';
    const g = strip.canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);
    g.lineWidth = 1.5;
    for (const pair of pairs) {
      const x0 = panes[0].px(pair.at[0]), x1 = panes[1].px(pair.at[1]);
      if (Math.max(x0, x1) < 0 || Math.min(x0, x1) > width) continue;
      g.strokeStyle = pair.anchor ? PAIRED : '#aaa';
      g.setLineDash(pair.anchor ? [] : [3, 3]);
      g.beginPath(); g.moveTo(x0, 0); g.lineTo(x1, height); g.stroke();
    }
    g.setLineDash([]);
    if (parting) {
      g.strokeStyle = PARTING; g.lineWidth = 2;
      g.beginPath(); g.moveTo(partingX(0), 0); g.lineTo(partingX(1), height); g.stroke();
    }
  };
  const section = el('section', { className: 'run compare' });
  section.id = 'compare';
  section.append(el('h1', {}, 'The runs side by side, aligned on the client\'s events'),
                 el('div', { className: 'compare-summary' }, compare.summary + ' Each anchor (a teal line between ' +
                    'the runs) is at one point of the axis in both; between anchors each run is stretched evenly.'));
  const partingText = el('div', { className: 'divergence ' + (parting ? parting.kind : 'none') },
                         parting ? parting.text : 'The runs do not part: the clients see the same, and so does ' +
                         'the stack of every request.');
  section.appendChild(partingText);
  const lanes = renderTimeline(panes, {
    axes,
    between: () => strip,
    buttons: parting ? [['Go to where the runs part', partingAt]] : [],
    legend: [[PAIRED, 'matched client event'], [PARTING, 'where the runs part']],
  });
  section.appendChild(lanes.box);
  return { section, lanes };
}
