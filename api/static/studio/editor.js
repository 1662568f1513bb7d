/* The studio editor: one version of a process, every file of it editable — BPMN in the bpmn-js modeler with the
   properties panel, DMN in dmn-js, forms as JSON Schema with a live preview. Validate asks the engine for its
   report (every problem marked on its element); Deploy sends the whole bundle with a change note and the
   engine makes the new version(s) at once, no restart. */
'use strict';

(async () => {
  const {api, el, links} = Studio;
  const root = document.getElementById('editor');
  const {key, version} = Studio.section(root);
  const me = await Studio.user();
  const manager = me.roles.includes('quality_manager');
  const {detail, files} = await Studio.loadVersion(key, version);
  const vocabulary = await api('GET', '/api/process-definitions/vocabulary');  // the roles and properties
  const original = {...files};
  const $ = (id) => document.getElementById(id);

  Accredit.meta($('version-meta'), [['Process', detail.name || key], ['Deployed', Accredit.utc(detail.deployed_at)],
    ['By', detail.deployed_by], ['Change note', detail.note || '—'], ['Open cases', String(detail.open_cases)],
    ['All cases', String(detail.cases)], ['Latest version', `v${detail.latest_version}`]]);

  const modeler = new BpmnJS({container: $('canvas'), moddleExtensions: {spiffworkflow: StudioSpiffModdle}});
  window.studioModeler = modeler;  // for the browser tests and the console
  const panelBody = $('panel-body');
  panelBody.after(...StudioPanel.datalists(vocabulary));
  new StudioPanel.Panel(modeler, panelBody, () => files, vocabulary);
  const dmn = new StudioDmn.DmnEditor($('dmn-canvas'), root.dataset.dmnScript);
  let current = null;
  let baseline = null;
  const edited = new Set();
  const forms = new StudioForms.FormEditor($('form-source'), $('form-preview'), $('form-json-error'), (text) => {
    files[current] = text;
    showChanged();
  });
  const problems = new StudioProblems.Problems($('problems'), $('validation-status'), openAt);

  function showChanged() {
    const names = Object.keys(files).filter((n) => files[n] !== original[n] || edited.has(n));
    $('changed-files').textContent = names.length ? `Changed: ${names.join(', ')}` : '';
  }
  modeler.on('commandStack.changed', () => {
    if (current) edited.add(current);
    showChanged();
  });

  /** Write what the open editor holds back into the bundle. */
  async function sync() {
    if (!current) return;
    const kind = Studio.kind(current);
    if (kind === 'bpmn' && edited.has(current)) {
      const {xml} = await modeler.saveXML({format: true});
      if (xml !== baseline) files[current] = xml;
    } else if (kind === 'dmn') {
      const xml = await dmn.changed();
      if (xml) {
        files[current] = xml;
        edited.add(current);
      }
    }
  }

  async function openFile(name) {
    await sync();
    const kind = Studio.kind(name);
    $('bpmn-pane').hidden = kind !== 'bpmn';
    $('dmn-pane').hidden = kind !== 'dmn';
    $('form-pane').hidden = kind === 'bpmn' || kind === 'dmn';
    current = name;
    $('file-select').value = name;
    if (kind === 'bpmn') {
      await modeler.importXML(files[name]);
      readable(modeler.get('canvas'));
      baseline = (await modeler.saveXML({format: true})).xml;
      problems.mark(modeler, name);
    } else if (kind === 'dmn') {
      await dmn.open(name, files[name]);
    } else {
      forms.open(name, files[name]);
    }
    showChanged();
  }

  /** Fit the diagram, but never below a readable scale: a wide process then opens at its start. */
  function readable(canvas) {
    canvas.zoom('fit-viewport');
    if (canvas.zoom() >= 0.6) return;
    canvas.zoom(0.75);
    const box = canvas.viewbox();
    canvas.scroll({dx: (box.x - box.inner.x) * box.scale + 90, dy: (box.y - box.inner.y) * box.scale + 20});
  }

  /** A problem was clicked: open its file and select its element. */
  async function openAt(file, elementId) {
    if (file && file !== current && file in files) await openFile(file);
    if (!elementId || Studio.kind(current) !== 'bpmn') return;
    const element = modeler.get('elementRegistry').get(elementId);
    if (!element) return;
    modeler.get('selection').select(element);
    modeler.get('canvas').scrollToElement(element);
    $('canvas').focus();
  }

  const select = $('file-select');
  const order = {bpmn: 0, dmn: 1, form: 2, ui: 3};
  const names = Object.keys(files).sort((a, b) => order[Studio.kind(a)] - order[Studio.kind(b)] || a.localeCompare(b));
  select.append(...names.map((n) => el('option', {value: n}, `${n} (${Studio.kind(n)})`)));
  select.addEventListener('change', () => openFile(select.value));
  $('canvas').tabIndex = 0;

  async function validate() {
    await sync();
    const report = await api('POST', '/api/process-definitions/validate', {files});
    const hints = Studio.kind(current) === 'bpmn' ? StudioHints.collect(modeler, current) : [];
    problems.show({...report, warnings: [...(report.warnings || []), ...hints]});
    if (Studio.kind(current) === 'bpmn') problems.mark(modeler, current);
    return report;
  }
  $('validate').addEventListener('click', () => validate());

  if (manager) $('deploy-section').hidden = false;
  $('deploy-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const note = $('note').value.trim();
    $('note-error').textContent = note ? '' : 'Write why you change the process: the note is kept with the version.';
    $('note').setAttribute('aria-invalid', note ? 'false' : 'true');
    if (!note) {
      $('note').focus();
      return;
    }
    await sync();
    const result = $('deploy-result');
    result.replaceChildren();
    let report;
    try {
      report = await api('POST', '/api/process-definitions', {files, note});
    } catch (e) {
      if (e instanceof Accredit.ApiError && e.status === 422 && 'valid' in e.problem) {
        problems.show(e.problem);
        if (Studio.kind(current) === 'bpmn') problems.mark(modeler, current);
        result.append(el('p', {class: 'status bad'}, `Nothing was deployed: ${e.message}`));
        return;
      }
      throw e;
    }
    problems.show(report);
    const created = report.deploy.filter((d) => d.created);
    if (!created.length) {
      result.append(el('p', {class: 'status'}, 'Nothing changed: no new version was created.'));
      return;
    }
    result.append(el('ul', {class: 'deployed'}, created.map((d) => el('li', {dataset: {key: d.key, version: d.version}},
      el('strong', {}, `${d.key} v${d.version}`), ' deployed. ',
      el('a', {href: links.editor(d.key, d.version)}, `Open v${d.version}`), ' · ',
      d.previous_version ? el('a', {href: links.diff(d.key, d.previous_version, d.version)},
        `Compare v${d.previous_version} → v${d.version}`) : null,
      d.previous_version ? ' · ' : null,
      d.previous_version ? el('a', {href: links.migrate(d.key, d.previous_version)},
        `Migrate cases of v${d.previous_version}`) : null))));
    for (const n of Object.keys(files)) original[n] = files[n];
    edited.clear();
    showChanged();
  });

  await openFile(Studio.mainBpmn(files, key));
  root.dataset.ready = 'true';
})();
