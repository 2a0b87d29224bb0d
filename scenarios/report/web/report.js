// The page: reads the runs' JSON (escaped by the generator, parsed here, and
// only ever shown through textContent, so no text of a run becomes markup),
// and renders each run: header, verdict, violations, swimlanes, wait-for graph.
'use strict';

const tip = document.getElementById('tooltip');

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) node.append(child);  // strings become text nodes
  return node;
}

function renderRun(run, index) {
  const section = el('section', { className: 'run' });
  section.dataset.run = index;
  section.appendChild(el('h1', {}, run.title));
  const failure = run.failure;
  // The violation that failed the run: the first that is not a warning.
  const first = run.violations.find((v) => !v.warning && v.invariant === failure.invariant);
  const verdict = el('div', { className: 'verdict ' + (failure.class ? 'failed' : 'passed') });
  verdict.id = 'verdict-' + index;
  if (failure.class) {
    verdict.dataset.invariant = failure.invariant;
    verdict.dataset.layer = failure.layer;
    verdict.append(el('span', { className: 'headline' },
                      failure.class + ' failure: ' + failure.invariant + ' broken; blamed layer: ' +
                      (failure.layer || '?')), failure.explanation);
  } else {
    verdict.append(el('span', { className: 'headline' }, 'passed'), 'No invariant was broken.');
  }
  section.appendChild(verdict);
  if (failure.reproduce) section.appendChild(el('div', { className: 'reproduce' }, failure.reproduce));
  const meta = el('div', { className: 'meta' });
  const trace = run.trace;
  const rows = Object.entries(run.metadata);
  if (trace) {
    rows.push(['trace records', trace.records + (trace.first_record ? ' (the last of ' + trace.records_total + ')' : '')]);
  }
  for (const [key, value] of rows) meta.appendChild(el('div', {}, el('span', {}, key), ' ' + String(value)));
  section.appendChild(meta);
  if (run.violations.length) {
    const list = el('ul', { className: 'violations' });
    const shownAtOnce = 8;
    let rest = null;
    run.violations.forEach((v, k) => {
      if (k === shownAtOnce) {
        rest = el('details', {}, el('summary', {}, (run.violations.length - shownAtOnce) + ' more'));
        list.appendChild(el('li', {}, rest));
      }
      const item = el('li', { className: v.warning ? 'warning' : 'failure' },
                      (v.warning ? 'warning ' : '') + v.invariant + ' (layer ' + v.layer + ')' +
                      (v.request ? ', request ' + v.request : '') + ' at ' + formatNs(v.time_ns) + ': ' + v.detail);
      item.dataset.invariant = v.invariant;
      (rest || list).appendChild(item);
    });
    section.append(el('h2', {}, 'Violations'), list);
  }
  let lanes = null;
  if (trace) {
    // A violation follows the record that showed it; one reported at the end
    // of the run (or before the records kept) is marked at the end.
    const end = Math.max(trace.records - 1, 0);
    const at = (v) => (v.trace_records > trace.first_record && v.trace_records - trace.first_record <= trace.records
      ? v.trace_records - trace.first_record - 1 : end);
    const marker = first ? { at: at(first), invariant: first.invariant, layer: first.layer, request: first.request }
                         : failure.class ? { at: end, invariant: failure.invariant, layer: failure.layer, request: 0 }
                                         : null;
    section.appendChild(el('h2', {}, 'Run'));
    lanes = renderLanes(trace, marker);
    section.appendChild(lanes.box);
  }
  if (run.blocked.length) section.appendChild(renderWaitForGraph(run));
  return { section, lanes };
}

function main() {
  const started = performance.now();
  const runs = JSON.parse(document.getElementById('runs').textContent);
  const root = document.getElementById('report');
  const shown = runs.map((run, k) => renderRun(run, k));
  for (const { section } of shown) root.appendChild(section);
  for (const { lanes } of shown) if (lanes) lanes.draw();
  if (runs.length === 1) document.title = runs[0].title + ' - asgisim';
  document.body.dataset.renderMs = (performance.now() - started).toFixed(1);
  document.body.dataset.ready = 'yes';
}

main();
