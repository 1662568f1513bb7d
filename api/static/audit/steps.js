/* "/audit/steps": where the process hurts. Per step of a process version: cases waiting now, median and 90th
   percentile time spent, missed deadlines (GET /api/metrics/steps), as a heat overlay on the diagram
   (bpmn-js NavigatedViewer: markers colour the steps, overlays carry the waiting count) and as a table. */
'use strict';

(() => {
  const {api, ApiError, me, el, utc} = Accredit;
  const form = document.getElementById('step-filters');
  const field = (name) => form.elements[name];
  const state = {processes: [], seq: 0, viewer: null, xmlFor: null, result: null};
  const LEVELS = 4;

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '—';
    if (seconds < 60) return `${Math.round(seconds)} s`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
    if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
    return `${(seconds / 86400).toFixed(1)} d`;
  }

  function nextDay(day) {
    const d = new Date(`${day}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }

  async function start() {
    const user = await me();
    if (!user) { location.assign(Accredit.signInUrl()); return; }
    state.processes = await api('GET', '/api/process-definitions');
    const params = new URLSearchParams(location.search);
    field('process').replaceChildren(...state.processes.map((p) => el('option', {value: p.key}, p.name || p.key)));
    if (!state.processes.length) {
      document.getElementById('steps-summary').textContent = 'No process is deployed.';
      return;
    }
    const busiest = state.processes.slice().sort((a, b) => b.open_cases - a.open_cases)[0];
    field('process').value = state.processes.some((p) => p.key === params.get('process')) ? params.get('process') : busiest.key;
    versions(params.get('version'));
    field('since').value = params.get('since') || '';
    field('until').value = params.get('until') || '';
    if (params.get('metric')) field('metric').value = params.get('metric');
    form.addEventListener('change', (e) => {
      if (e.target === field('process')) versions(null);
      if (e.target === field('metric')) { paint(); remember(); return; }
      load();
    });
    form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
    window.addEventListener('resize', () => {  // a phone turned sideways: fit the diagram again
      const container = document.getElementById('diagram');
      if (!state.viewer || state.xmlFor === null || container.hidden) return;
      if (!container.clientWidth || !container.clientHeight) return;  // nothing to fit into (bpmn-js would throw)
      const canvas = state.viewer.get('canvas');
      canvas.resized();
      const box = canvas.viewbox();
      if (box.inner.width > 0 && box.inner.height > 0) canvas.zoom('fit-viewport');
    });
    await load();
  }

  function versions(wanted) {
    const p = state.processes.find((x) => x.key === field('process').value);
    field('version').replaceChildren(...p.versions.slice().reverse().map((v) => el('option', {value: String(v.version)},
      `v${v.version}${v.latest ? ' (latest)' : ''} — ${v.cases} case${v.cases === 1 ? '' : 's'}`)));
    field('version').value = p.versions.some((v) => String(v.version) === wanted) ? wanted : String(p.latest_version);
  }

  function remember() {
    const shown = {process: field('process').value, version: field('version').value};
    for (const name of ['since', 'until']) if (field(name).value) shown[name] = field(name).value;
    if (field('metric').value !== 'waiting_now') shown.metric = field('metric').value;
    history.replaceState(null, '', `/audit/steps?${new URLSearchParams(shown)}`);
  }

  async function load() {
    const seq = ++state.seq;
    remember();
    const query = {process: field('process').value, version: field('version').value};
    if (field('since').value) query.since = `${field('since').value}T00:00:00Z`;
    if (field('until').value) query.until = `${nextDay(field('until').value)}T00:00:00Z`;
    let result;
    try {
      result = await api('GET', `/api/metrics/steps?${new URLSearchParams(query)}`);
    } catch (e) {
      if (!(e instanceof ApiError) || ![403, 422].includes(e.status)) throw e;
      document.getElementById('steps-summary').textContent = e.message;
      return;
    }
    if (seq !== state.seq) return;
    state.result = result;
    const d = result.definition;
    document.getElementById('steps-summary').textContent =
      `${d.name || d.key} v${d.version}: ${d.cases} case${d.cases === 1 ? '' : 's'}; figures as of ${utc(result.computed_at)}.`;
    table(result.steps);
    await diagram(d);
    paint();
  }

  function table(steps) {
    document.querySelector('#step-table tbody').replaceChildren(...steps.map((s) => el('tr', {dataset: {elementId: s.element_id}},
      el('th', {scope: 'row'}, s.name || s.element_id),
      el('td', {}, s.lane || ''),
      el('td', {class: 'n waiting'}, String(s.waiting_now)),
      el('td', {class: 'n'}, String(s.entered)),
      el('td', {class: 'n'}, String(s.completed)),
      el('td', {class: 'n median'}, duration(s.median_seconds)),
      el('td', {class: 'n p90'}, duration(s.p90_seconds)),
      el('td', {class: 'n missed'}, s.with_deadline ? `${s.missed_deadline} of ${s.with_deadline}` : '—'),
      el('td', {class: 'n'}, String(s.overdue_now)))));
  }

  async function bpmnXml(d) {
    const base = `/api/process-definitions/${encodeURIComponent(d.key)}/versions/${d.version}`;
    const version = await api('GET', base);
    const names = version.files.map((f) => f.name).filter((n) => n.endsWith('.bpmn'));
    const name = names.includes(`${d.key}.bpmn`) ? `${d.key}.bpmn` : names[0];
    if (!name) return null;
    const response = await fetch(`${base}/files/${encodeURIComponent(name)}`, {credentials: 'same-origin'});
    if (!response.ok) throw new Error(`could not load the diagram ${name}: ${response.status}`);
    return response.text();
  }

  async function diagram(d) {
    const key = `${d.key}@${d.version}`;
    if (state.xmlFor === key) return;
    state.xmlFor = key;
    const container = document.getElementById('diagram');
    const note = document.getElementById('diagram-note');
    note.hidden = true;
    container.hidden = false;
    const xml = await bpmnXml(d);
    if (!state.viewer) state.viewer = new BpmnJS({container});
    try {
      if (!xml) throw new Error('no diagram to display');
      await state.viewer.importXML(xml);
      state.viewer.get('canvas').zoom('fit-viewport');
    } catch (e) {
      container.hidden = true;
      note.textContent = /no diagram to display/i.test(e.message)
        ? 'This process version has no drawn diagram; the table below has every figure.'
        : `The diagram could not be shown: ${e.message}`;
      note.hidden = false;
      state.xmlFor = null;
    }
  }

  /** Colour each step by the chosen figure (five levels relative to the highest) and badge its waiting count. */
  function paint() {
    const result = state.result;
    if (!result || !state.viewer || document.getElementById('diagram').hidden) return;
    const metric = field('metric').value;
    const canvas = state.viewer.get('canvas');
    const registry = state.viewer.get('elementRegistry');
    const overlays = state.viewer.get('overlays');
    overlays.remove({type: 'heat'});
    const max = Math.max(0, ...result.steps.map((s) => s[metric] || 0));
    const marked = [];
    for (const s of result.steps) {
      if (!registry.get(s.element_id)) continue;
      for (let i = 0; i <= LEVELS; i += 1) canvas.removeMarker(s.element_id, `heat-${i}`);
      const value = s[metric] || 0;
      const level = max > 0 && value > 0 ? Math.max(1, Math.ceil((value / max) * LEVELS)) : 0;
      canvas.addMarker(s.element_id, `heat-${level}`);
      const label = `${s.name || s.element_id}: ${s.waiting_now} waiting now, median ${duration(s.median_seconds)}, `
        + `90th percentile ${duration(s.p90_seconds)}, ${s.missed_deadline} missed deadline${s.missed_deadline === 1 ? '' : 's'}`;
      overlays.add(s.element_id, 'heat', {position: {top: -12, right: 12},
        html: el('span', {class: `heat-badge heat-${level}`, title: label, dataset: {elementId: s.element_id, level}},
          String(s.waiting_now))});
      marked.push(`${s.element_id}:${level}`);
    }
    document.getElementById('diagram').dataset.heat = marked.join(' ');
  }

  start();
})();
