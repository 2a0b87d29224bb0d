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

// A run's section; its swimlanes unless `withLanes` is false (a compared
// run's are drawn by renderCompare). Returns the violation to mark too.
function renderRun(run, index, withLanes) {
  const section = el('section', { className: 'run' });
  section.dataset.run = index;
  section.id = 'run-' + index;
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
  let marker = null;
  if (trace) {
    // A violation follows the record that showed it; one reported at the end
    // of the run (or before the records kept) is marked at the end.
    const end = Math.max(trace.records - 1, 0);
    const at = (v) => (v.trace_records > trace.first_record && v.trace_records - trace.first_record <= trace.records
      ? v.trace_records - trace.first_record - 1 : end);
    marker = first ? { at: at(first), invariant: first.invariant, layer: first.layer, request: first.request }
                         : failure.class ? { at: end, invariant: failure.invariant, layer: failure.layer, request: 0 }
                                         : null;
    if (withLanes) {
      section.appendChild(el('h2', {}, 'Run'));
      lanes = renderLanes(trace, marker);
      section.appendChild(lanes.box);
    }
  }
  if (run.blocked.length) section.appendChild(renderWaitForGraph(run));
  return { section, lanes, marker };
}

// The sweep view: per scenario and configuration, the seeds run, their rate,
// the failures by class and invariant, and the first failing seed of each
// (a link to its run below when it is embedded).
function renderSweep(rows) {
  const section = el('section', { className: 'run sweep' });
  section.appendChild(el('h1', {}, 'Sweep'));
  const table = el('table', { className: 'sweep-table' });
  table.appendChild(el('tr', {}, ...['scenario', 'config', 'seeds', 'seeds/s', 'failures', 'by class and invariant',
                                     'first failing seed of each'].map((h) => el('th', {}, h))));
  for (const row of rows) {
    const byClass = el('td');
    for (const [key, count] of Object.entries(row.failures_by)) byClass.append(el('div', {}, count + ' ' + key));
    const firsts = el('td');
    for (const example of row.first_failures) {
      const text = 'seed ' + example.seed + ': ' + example.failure + ' ' + example.invariant;
      if (example.run >= 0) {
        const link = el('a', { href: '#run-' + example.run }, text);
        firsts.append(el('div', {}, link));
      } else {
        firsts.append(el('div', {}, text, el('div', { className: 'reproduce' }, example.reproduce + ' --html FILE')));
      }
    }
    const tr = el('tr', { className: row.failures ? 'failed' : 'passed' },
                  el('td', {}, row.scenario), el('td', {}, row.config), el('td', {}, String(row.seeds)),
                  el('td', {}, row.seconds > 0 ? (row.seeds / row.seconds).toFixed(0) : '-'),
                  el('td', {}, String(row.failures)), byClass, firsts);
    tr.dataset.scenario = row.scenario;
    table.appendChild(tr);
  }
  section.appendChild(table);
  return section;
}

function main() {
  const started = performance.now();
  const data = JSON.parse(document.getElementById('runs').textContent);
  const runs = data.runs;
  const root = document.getElementById('report');
  if (data.sweep) root.appendChild(renderSweep(data.sweep));
  // Two runs compared: first their lanes one above the other on one axis,
  // then each run's verdict, metadata and wait-for graph.
  const compared = data.compare && runs.length >= 2 && runs[0].trace && runs[1].trace;
  const shown = runs.map((run, k) => renderRun(run, k, !(compared && k < 2)));
  if (compared) shown.unshift(renderCompare(runs.slice(0, 2), data.compare, [shown[0].marker, shown[1].marker]));
  for (const { section } of shown) root.appendChild(section);
  for (const { lanes } of shown) if (lanes) lanes.draw();
  if (runs.length === 1) document.title = runs[0].title + ' - asgisim';
  document.body.dataset.renderMs = (performance.now() - started).toFixed(1);
  document.body.dataset.ready = 'yes';
}

main();
