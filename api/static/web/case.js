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
    // staff write internal notes: only staff read them (never the laboratory or inspectors)
    document.getElementById('internal-choice').hidden = !user.roles.some((r) => ['coordinator', 'committee'].includes(r));
    document.getElementById('comment-form').addEventListener('submit', addComment);
    await Promise.all([
      attachments(),
      comments(),
      diagram(null),
      history(),
    ]);
    // no person's task open: the current step is what the case waits for (a timer, a message), inside
    // the phases (called processes) running now
    let waiting = [];
    if (theCase.status === 'running' && !(theCase.tasks && theCase.tasks.length)) waiting = await waitingFor(null, 0);
    showCase(theCase, waiting.length ? waiting.join('; ') : null);  // with the process's name from its diagram
  }

  /** Names of what waits now in `process` (null: the case's own), following running call activities. */
  async function waitingFor(process, depth) {
    const query = process ? `?process=${encodeURIComponent(process)}` : '';
    const d = await api('GET', `/api/cases/${encodeURIComponent(caseId)}/diagram${query}`);
    const calls = Object.fromEntries(d.calls.map((c) => [c.element_id, c]));
    const out = [];
    for (const e of d.elements) {
      if (e.state !== 'active' || !e.element_name) continue;
      const call = calls[e.element_id];
      const inner = call && depth < 5 ? await waitingFor(call.called_element, depth + 1) : [];
      out.push(inner.length ? `${e.element_name}, waiting for: ${inner.join(', ')}` : e.element_name);
    }
    return out;
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
    const items = list.map((c) => el('li', {dataset: {commentId: c.id}, class: c.internal ? 'internal' : null},
      el('div', {class: 'comment-head'},
        el('strong', {class: 'comment-author'}, c.author_name && c.author_name !== c.author
          ? `${c.author_name} (${c.author})` : c.author),
        ' · ', el('time', {datetime: c.created_at}, utc(c.created_at)),
        c.task_id ? ' · on a task' : null,
        c.internal ? el('span', {class: 'badge internal'}, 'internal note: staff only') : null),
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
      const internal = document.getElementById('comment-internal');
      await api('POST', `/api/cases/${encodeURIComponent(caseId)}/comments`,
        {body: body.value, internal: Boolean(internal && internal.checked)});
      body.value = '';
      if (internal) internal.checked = false;
      await comments();
      notice('Comment added.');
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      const details = (e.problem.errors || []).map((x) => `${x.field}: ${x.message}`).join('; ');
      error.textContent = e.problem.errors && e.problem.errors.length
        ? `The comment: ${e.problem.errors.map((x) => x.message).join("; ")}` : e.message;
      error.hidden = false;
      body.setAttribute('aria-invalid', 'true');
      body.focus();
    } finally {
      button.disabled = false;
    }
  }

  function showCase(c, waiting) {
    document.title = `${c.business_key} · accredit`;
    document.getElementById('case-title').textContent = `Case ${c.business_key}`;
    meta(document.getElementById('case-meta'), [
      ['Status', el('span', {class: `status ${c.status}`}, c.status)],
      ['Outcome', c.outcome || (c.status === 'running' ? '— (running)' : '—')],
      ['Business key', c.business_key],
      ['Process', `${processName || c.process_key}, version ${c.definition_version}`],
      ['Organisation', c.organisation_id],
      ['Started', utc(c.created_at)],
      ['Ended', c.ended_at ? utc(c.ended_at) : null],
      ['Started by case', c.parent_case_id ? el('a', {href: `/cases/${encodeURIComponent(c.parent_case_id)}`}, 'parent case') : null],
      // the outcome a laboratory asks about first (variables the diagram shares with it)
      ['Certificate number', (c.data || {}).certificate_number],
      ['Awarded on', (c.data || {}).award_date],
      ['Expires on', (c.data || {}).accreditation_expires_on],
      ['Current step', c.tasks && c.tasks.length ? [...new Set(c.tasks.map((t) => t.name || t.element_id))].join(', ')
        : waiting],
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

  // the diagram shown now, and the path of call activities opened to reach it (the breadcrumb)
  const trail = [];
  let processName = null;  // the case's process as its diagram names it
  let viewer = null;

  /** Show the diagram of `process` (null: the case's own) with its done / waiting steps. A call activity
   * opens the diagram of the process it calls (click, Enter / Space on it, or the link in the steps list);
   * the breadcrumb goes back. Every diagram comes from GET /api/cases/<id>/diagram (one engine read). */
  async function diagram(process, from) {
    const note = document.getElementById('diagram-note');
    const container = document.getElementById('diagram');
    const query = process ? `?process=${encodeURIComponent(process)}` : '';
    const d = await api('GET', `/api/cases/${encodeURIComponent(caseId)}/diagram${query}`);
    if (from !== undefined) {
      // drilling down adds a level; going back cuts the trail to the level chosen
      const at = trail.findIndex((level) => level.process === d.process);
      if (at >= 0) trail.splice(at + 1);
      else trail.push({process: d.process, name: from || d.process_name});
    } else {
      trail.splice(0, trail.length, {process: d.process, name: d.process_name});
      processName = d.process_name;
    }
    crumbs();
    note.hidden = true;
    container.hidden = false;
    container.dataset.process = d.process;
    if (!d.xml) {
      container.hidden = true;
      note.textContent = 'This process version has no BPMN file to show.';
      note.hidden = false;
      steps(d);
      return;
    }
    if (!viewer) {
      viewer = new BpmnJS({container});
      const canvas = viewer.get('canvas');
      // zoom, fit and reset from buttons (keyboard operable)
      document.getElementById('zoom-in').onclick = () => canvas.zoom(canvas.zoom() * 1.25);
      document.getElementById('zoom-out').onclick = () => canvas.zoom(canvas.zoom() / 1.25);
      document.getElementById('zoom-fit').onclick = () => canvas.zoom('fit-viewport');
      document.getElementById('zoom-reset').onclick = () => canvas.zoom(1.0);
      viewer.on('element.click', (event) => {
        const call = (viewer.accreditCalls || {})[event.element.id];
        if (call) open(call);
      });
    }
    try {
      const {warnings} = await viewer.importXML(d.xml);
      if (warnings && warnings.length) console.warn('diagram import warnings', warnings);
    } catch (e) {
      container.hidden = true;
      note.textContent = /no diagram to display/i.test(e.message)
        ? 'This process has no drawn diagram (no layout in its BPMN file); see the steps and the history below.'
        : `The diagram could not be shown: ${e.message}`;
      note.hidden = false;
      steps(d);
      return;
    }
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    canvas.zoom('fit-viewport');
    const shown = [];
    for (const element of d.elements) {
      const marker = MARKERS[element.state];
      const shape = registry.get(element.element_id);
      if (!marker || !shape) continue;
      canvas.addMarker(element.element_id, marker);
      const gfx = registry.getGraphics(element.element_id);
      const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
      title.textContent = `${element.element_name || element.element_id}: ${stateWords(element)}`;
      gfx.prepend(title);
      shown.push(element.element_id);
    }
    container.dataset.marked = shown.join(' ');
    // call activities open the diagram they call: a button in the diagram for the keyboard and screen readers
    viewer.accreditCalls = {};
    for (const call of d.calls) {
      const gfx = registry.getGraphics(call.element_id);
      if (!gfx) continue;
      viewer.accreditCalls[call.element_id] = call;
      canvas.addMarker(call.element_id, 'accredit-call');
      gfx.setAttribute('tabindex', '0');
      gfx.setAttribute('role', 'button');
      gfx.setAttribute('aria-label', `Open the diagram of ${call.element_name || call.called_element}`);
      gfx.addEventListener('keydown', (event) => {
        if (event.key !== 'Enter' && event.key !== ' ') return;
        event.preventDefault();
        open(call);
      });
    }
    steps(d);
  }

  function stateWords(e) {
    const words = {completed: 'completed', active: 'waiting now', cancelled: 'cancelled', error: 'failed'};
    return e.state === 'completed' && e.times_completed
      ? `completed${e.times_completed > 1 ? ` ${e.times_completed}×` : ''}, last ${utc(e.last_completed_at)}`
      : (words[e.state] || e.state);
  }

  /** The same progress as a text list, with a link into each called process. */
  function steps(d) {
    document.getElementById('diagram-help').hidden = !d.calls.length;
    const calls = Object.fromEntries(d.calls.map((c) => [c.element_id, c]));
    const items = d.elements
      .filter((e) => MARKERS[e.state] && (e.element_name || calls[e.element_id]))
      .map((e) => el('li', {}, `${e.element_name || e.element_id}: ${stateWords(e)}`,
        calls[e.element_id] ? [' · ', callLink(calls[e.element_id])] : null));
    // called processes not reached yet can be opened too (to see what they hold)
    for (const call of d.calls) {
      if (d.elements.some((e) => e.element_id === call.element_id && MARKERS[e.state])) continue;
      items.push(el('li', {}, `${call.element_name || call.element_id}: not reached`, ' · ', callLink(call)));
    }
    document.getElementById('steps-title').textContent =
      trail.length > 1 ? `Steps of ${d.process_name} in this case, as text` : 'Steps of this case as text';
    document.getElementById('steps').replaceChildren(...items);
  }

  function callLink(call) {
    return el('a', {href: `#diagram-${encodeURIComponent(call.called_element)}`, class: 'open-call',
                    dataset: {process: call.called_element},
                    onclick: (event) => { event.preventDefault(); open(call); }},
      `open the diagram of ${call.element_name || call.called_element}`);
  }

  async function open(call) {
    try {
      await diagram(call.called_element, call.element_name || call.called_element);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      Accredit.showError(e.message);
      return;
    }
    announce();
  }

  /** The breadcrumb: the case's process, then each called process opened (the last one is where we are). */
  function crumbs() {
    const nav = document.getElementById('diagram-crumbs');
    nav.hidden = trail.length < 2;
    nav.querySelector('ol').replaceChildren(...trail.map((level, i) => el('li', {},
      i === trail.length - 1
        ? el('span', {'aria-current': 'location'}, level.name)
        : el('button', {type: 'button', class: 'crumb', dataset: {process: level.process},
                        onclick: () => back(i)}, level.name))));
  }

  async function back(index) {
    const level = trail[index];
    try {
      await diagram(index === 0 ? null : level.process, level.name);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      Accredit.showError(e.message);
      return;
    }
    announce();
  }

  function announce() {
    const title = document.getElementById('diagram-title');
    const where = trail.map((level) => level.name).join(' › ');
    document.getElementById('diagram-status').textContent = trail.length > 1
      ? `Showing the diagram of ${trail[trail.length - 1].name} (${where}).` : `Showing the case's diagram.`;
    title.focus();
  }

  // what the engine did as a consequence of a person's (or a timer's) action: folded under that action
  const ENGINE_STEPS = new Set(['task.ready', 'element.completed', 'element.cancelled', 'element.error',
    'message.thrown', 'message.caught']);

  async function history() {
    const events = await api('GET', `/api/cases/${encodeURIComponent(caseId)}/history`);
    const rows = [];
    let head = null;
    let group = 0;
    for (const e of events) {
      const folded = ENGINE_STEPS.has(e.action) && head !== null;
      if (!folded) group += 1;
      const row = el('tr', {dataset: {seq: e.seq, action: e.action, group, kind: folded ? 'step' : 'action'},
                            class: folded ? 'engine-step' : null, hidden: folded},
        el('td', {class: 'num'}, e.seq),
        el('td', {class: 'nowrap'}, utc(e.occurred_at, true)),
        el('td', {}, e.actor_name && e.actor_name !== e.actor ? `${e.actor_name} (${e.actor})` : e.actor),
        el('td', {}, e.role || ''),
        el('td', {}, el('code', {}, e.action)),
        el('td', {}, e.element_name || e.element_id || ''));
      if (folded) {
        head.steps += 1;
      } else {
        head = {row, steps: 0, group};
        row.head = head;
      }
      rows.push(row);
    }
    for (const row of rows) {
      const h = row.head;
      if (!h || !h.steps) continue;
      const button = el('button', {type: 'button', class: 'fold', 'aria-expanded': 'false',
                                   'aria-controls': `history`, dataset: {group: h.group}},
        `${h.steps} engine step${h.steps === 1 ? '' : 's'}`);
      button.addEventListener('click', () => {
        const open = button.getAttribute('aria-expanded') !== 'true';
        button.setAttribute('aria-expanded', String(open));
        for (const r of rows) if (r.dataset.group === String(h.group) && r.dataset.kind === 'step') r.hidden = !open;
      });
      row.lastElementChild.append(' ', button);
    }
    document.querySelector('#history tbody').replaceChildren(...rows);
    const actions = rows.filter((r) => r.dataset.kind === 'action').length;
    document.getElementById('history-count').textContent =
      `${actions} action${actions === 1 ? '' : 's'} (${events.length} event${events.length === 1 ? '' : 's'} with the engine's steps), oldest first.`;
    const filter = document.getElementById('history-filter');
    filter.hidden = false;
    filter.querySelector('input').addEventListener('input', (ev) => {
      const words = ev.target.value.trim().toLowerCase();
      for (const r of rows) {
        if (r.dataset.kind !== 'action') continue;
        const hit = !words || r.textContent.toLowerCase().includes(words);
        r.hidden = !hit;
        if (!hit) for (const s of rows) if (s.dataset.group === r.dataset.group && s.dataset.kind === 'step') s.hidden = true;
      }
    });
  }

  start();
})();
