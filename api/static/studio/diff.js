/* Two versions compared (GET /api/process-definitions/{key}/diff): the "before" diagram marks what was removed
   and changed, the "after" diagram what was added and changed; below, every element listed per process and
   sub-process with the attributes that changed, and the files added, removed or changed. */
'use strict';

(async () => {
  const {api, el, links} = Studio;
  const root = document.getElementById('diff');
  const {key} = Studio.section(root);
  await Studio.user();
  const params = new URLSearchParams(location.search);
  const process = await api('GET', `${Studio.base(key)}`);
  const numbers = process.versions.map((v) => v.version);
  const to = Number(params.get('to')) || process.latest_version;
  const from = Number(params.get('from')) || Math.max(1, to - 1);
  for (const [id, value] of [['from', from], ['to', to]]) {
    document.getElementById(id).append(...numbers.map((n) => el('option', {value: n, selected: n === value}, `v${n}`)));
  }
  document.getElementById('diff-form').addEventListener('submit', (event) => {
    event.preventDefault();
    location.assign(links.diff(key, document.getElementById('from').value, document.getElementById('to').value));
  });
  document.getElementById('from-title').textContent = `Before: v${from}`;
  document.getElementById('to-title').textContent = `After: v${to}`;

  const diff = await api('GET', `${Studio.base(key)}/diff?from=${from}&to=${to}`);
  const s = diff.summary;
  Studio.status(document.getElementById('diff-summary'),
    `v${from} → v${to}: ${s.added} added, ${s.removed} removed, ${s.changed} changed element(s).`);

  const list = document.getElementById('diff-list');
  const kinds = [['added', 'Added'], ['removed', 'Removed'], ['changed', 'Changed']];
  for (const p of diff.processes) {
    const items = kinds.flatMap(([kind, label]) => p[kind].map((e) => el('li', {class: kind,
      dataset: {element: e.element_id, kind}},
    el('strong', {}, `${label}: `), e.name || e.element_id, ' ', el('code', {}, e.element_id),
    e.type ? el('span', {class: 'muted'}, ` (${e.type}${e.lane ? `, lane ${e.lane}` : ''})`) : null,
    e.was ? el('span', {}, ` — was ${e.was}`) : null,
    e.changes && e.changes.length ? el('span', {}, ` — ${e.changes.join(', ')}`) : null)));
    list.append(el('h3', {}, `Process ${p.process}`, el('span', {class: 'badge'}, p.status)),
      items.length ? el('ul', {class: 'changes'}, items) : el('p', {class: 'muted'}, 'No element changed.'));
  }
  const files = document.getElementById('diff-files');
  for (const [kind, label] of kinds) {
    files.append(...diff.files[kind].map((n) => el('li', {}, `${label}: `, el('code', {}, n))));
  }
  if (!files.children.length) files.append(el('li', {class: 'muted'}, 'No file changed.'));

  /** Show a version's main diagram with the given markers {elementId: cssClass}. */
  async function show(container, version, marks) {
    const {files: texts} = await Studio.loadVersion(key, version);
    const viewer = new BpmnJS({container});
    await viewer.importXML(texts[Studio.mainBpmn(texts, key)]);
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    canvas.zoom('fit-viewport');
    const marked = Object.entries(marks).filter(([id]) => registry.get(id));
    for (const [id, css] of marked) canvas.addMarker(id, css);
    if (marked.length && canvas.zoom() < 0.6) {  // a wide diagram: open readable, at the first change
      canvas.zoom(0.8);
      canvas.scrollToElement(registry.get(marked[0][0]));
    }
    return viewer;
  }
  const top = diff.processes.find((p) => p.process === key) || {added: [], removed: [], changed: []};
  const before = {};
  const after = {};
  top.removed.forEach((e) => { before[e.element_id] = 'diff-removed'; });
  top.changed.forEach((e) => { before[e.was || e.element_id] = 'diff-changed'; after[e.element_id] = 'diff-changed'; });
  top.added.forEach((e) => { after[e.element_id] = 'diff-added'; });
  const viewers = await Promise.all([show(document.getElementById('from-canvas'), from, before),
    show(document.getElementById('to-canvas'), to, after)]);
  // a listed element of the process: show it on both diagrams
  for (const item of list.querySelectorAll('li[data-element]')) {
    const id = item.dataset.element;
    if (!viewers.some((v) => v.get('elementRegistry').get(id))) continue;
    const button = el('button', {type: 'button', class: 'small', 'aria-label': `Show ${id} on the diagrams`}, 'Show');
    button.addEventListener('click', () => viewers.forEach((v) => {
      const element = v.get('elementRegistry').get(id);
      if (element) v.get('canvas').scrollToElement(element);
    }));
    item.append(' ', button);
  }
  root.dataset.ready = 'true';
})();
