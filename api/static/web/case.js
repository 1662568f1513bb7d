/* "/cases/<id>": the case, its diagram (bpmn-js NavigatedViewer) with what is done marked, and the history. */
'use strict';

(() => {
  const {api, ApiError, me, notice, utc, el, meta} = Accredit;
  const caseId = document.getElementById('case').dataset.caseId;
  const MARKERS = {completed: 'accredit-completed', active: 'accredit-active', cancelled: 'accredit-cancelled',
    error: 'accredit-error'};

  async function start() {
    notice();
    const user = await me();
    if (!user) { location.assign(Accredit.signInUrl()); return; }
    const enc = encodeURIComponent(caseId);
    let theCase;
    try {
      theCase = await api('GET', `/api/cases/${enc}`);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      document.getElementById('case-title').textContent = 'Case not available';
      Accredit.showError(e.message);
      return;
    }
    showCase(theCase);
    // an auditor only reads (engine.access.READ_ONLY_ROLES): no comment box that would always answer 403
    document.getElementById('comment-form').hidden = user.roles.every((r) => r === 'auditor');
    document.getElementById('comment-form').addEventListener('submit', addComment);
    await Promise.all([
      attachments(),
      comments(),
      diagram(theCase, api('GET', `/api/cases/${enc}/history/elements`)),
      history(),
    ]);
  }

  async function attachments() {
    const enc = encodeURIComponent(caseId);
    const files = await api('GET', `/api/cases/${enc}/attachments`);
    const rows = files.map((f) => el('tr', {dataset: {sha256: f.sha256}},
      el('td', {}, el('a', {href: `/api/cases/${enc}/attachments/${encodeURIComponent(f.sha256)}`,
        download: f.filename, title: `SHA-256 ${f.sha256}`}, f.filename)),
      el('td', {}, f.content_type),
      el('td', {class: 'nowrap'}, Accredit.size(f.size)),
      el('td', {}, f.uploaded_by),
      el('td', {class: 'nowrap'}, utc(f.uploaded_at))));
    document.querySelector('#attachments tbody').replaceChildren(...rows);
    document.getElementById('attachments').hidden = !files.length;
    document.getElementById('attachments-empty').hidden = files.length > 0;
  }

  async function comments() {
    const list = await api('GET', `/api/cases/${encodeURIComponent(caseId)}/comments`);
    const items = list.map((c) => el('li', {dataset: {commentId: c.id}},
      el('div', {class: 'comment-head'},
        el('strong', {class: 'comment-author'}, c.author_name && c.author_name !== c.author
          ? `${c.author_name} (${c.author})` : c.author),
        ' · ', el('time', {datetime: c.created_at}, utc(c.created_at)),
        c.task_id ? ' · on a task' : null),
      el('p', {class: 'comment-body'}, c.body)));
    document.getElementById('comments').replaceChildren(...items);
    document.getElementById('comments-empty').hidden = list.length > 0;
  }

  async function addComment(event) {
    event.preventDefault();
    const body = document.getElementById('comment-body');
    const error = document.getElementById('comment-error');
    const button = document.getElementById('comment-submit');
    error.hidden = true;
    body.removeAttribute('aria-invalid');
    button.disabled = true;
    try {
      await api('POST', `/api/cases/${encodeURIComponent(caseId)}/comments`, {body: body.value});
      body.value = '';
      await comments();
      notice('Comment added.');
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const details = (e.problem.errors || []).map((x) => `${x.field}: ${x.message}`).join('; ');
      error.textContent = details && !e.message.includes(details) ? `${e.message} (${details})` : e.message;
      error.hidden = false;
      body.setAttribute('aria-invalid', 'true');
      body.focus();
    } finally {
      button.disabled = false;
    }
  }

  function showCase(c) {
    document.title = `${c.business_key} · accredit`;
    document.getElementById('case-title').textContent = `Case ${c.business_key}`;
    meta(document.getElementById('case-meta'), [
      ['Status', el('span', {class: `status ${c.status}`}, c.status)],
      ['Outcome', c.outcome || (c.status === 'running' ? '— (running)' : '—')],
      ['Business key', c.business_key],
      ['Process', `${c.process_key}, version ${c.definition_version}`],
      ['Organisation', c.organisation_id],
      ['Started', utc(c.created_at)],
      ['Ended', c.ended_at ? utc(c.ended_at) : null],
      ['Started by case', c.parent_case_id ? el('a', {href: `/cases/${encodeURIComponent(c.parent_case_id)}`}, 'parent case') : null],
    ]);
    if (c.tasks && c.tasks.length) {
      document.getElementById('open-tasks-title').hidden = false;
      const list = document.getElementById('open-tasks');
      list.hidden = false;
      list.replaceChildren(...c.tasks.map((t) => el('li', {},
        el('a', {href: `/tasks/${encodeURIComponent(t.id)}`}, t.name || t.element_id),
        ` — ${t.role || ''}${t.claimed_by ? `, claimed by ${t.claimed_by}` : ''}${t.due_at ? `, due ${utc(t.due_at)}` : ''}`)));
    }
  }

  async function bpmnFile(c) {
    const base = `/api/process-definitions/${encodeURIComponent(c.process_key)}/versions/${c.definition_version}`;
    const version = await api('GET', base);
    const names = version.files.map((f) => f.name).filter((n) => n.endsWith('.bpmn'));
    const name = names.includes(`${c.process_key}.bpmn`) ? `${c.process_key}.bpmn` : names[0];
    if (!name) return null;
    const response = await fetch(`${base}/files/${encodeURIComponent(name)}`, {credentials: 'same-origin'});
    if (!response.ok) throw new Error(`could not load the diagram ${name}: ${response.status}`);
    return response.text();
  }

  async function diagram(c, elementsPromise) {
    const note = document.getElementById('diagram-note');
    const container = document.getElementById('diagram');
    const [xml, elements] = await Promise.all([bpmnFile(c), elementsPromise]);
    if (!xml) {
      container.hidden = true;
      note.textContent = 'This process version has no BPMN file to show.';
      note.hidden = false;
      return;
    }
    const viewer = new BpmnJS({container});
    try {
      const {warnings} = await viewer.importXML(xml);
      if (warnings && warnings.length) console.warn('diagram import warnings', warnings);
    } catch (e) {
      container.hidden = true;
      note.textContent = /no diagram to display/i.test(e.message)
        ? 'This process has no drawn diagram (no layout in its BPMN file); see the history below.'
        : `The diagram could not be shown: ${e.message}`;
      note.hidden = false;
      return;
    }
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    canvas.zoom('fit-viewport');
    const shown = [];
    for (const element of elements) {
      const marker = MARKERS[element.state];
      const shape = registry.get(element.element_id);
      if (!marker || !shape) continue;
      canvas.addMarker(element.element_id, marker);
      const gfx = registry.getGraphics(element.element_id);
      const done = element.times_completed
        ? `completed ${element.times_completed}×, last ${utc(element.last_completed_at)}` : element.state;
      const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
      title.textContent = `${element.element_name || element.element_id}: ${done}`;
      gfx.prepend(title);
      shown.push(element.element_id);
    }
    container.dataset.marked = shown.join(' ');
  }

  async function history() {
    const events = await api('GET', `/api/cases/${encodeURIComponent(caseId)}/history`);
    const rows = events.map((e) => el('tr', {dataset: {seq: e.seq, action: e.action}},
      el('td', {class: 'num'}, e.seq),
      el('td', {class: 'nowrap'}, utc(e.occurred_at, true)),
      el('td', {}, e.actor_name && e.actor_name !== e.actor ? `${e.actor_name} (${e.actor})` : e.actor),
      el('td', {}, e.role || ''),
      el('td', {}, el('code', {}, e.action)),
      el('td', {}, e.element_name || e.element_id || '')));
    document.querySelector('#history tbody').replaceChildren(...rows);
    document.getElementById('history-count').textContent =
      `${events.length} event${events.length === 1 ? '' : 's'}, oldest first.`;
  }

  start();
})();
