/* "/start": the processes the user may start and the notifications they may send (GET /api/catalogue — read
   from the diagrams: the start event's lane, a catch event's `sentBy`). Starting a process opens its first task
   for the user; sending a notification posts its form to POST /api/messages/{name}. */
'use strict';

(() => {
  const {api, ApiError, me, notice, el, carryNotice} = Accredit;

  async function start() {
    notice();
    const user = await me();
    if (!user) { location.assign(Accredit.signInUrl()); return; }
    const catalogue = await api('GET', '/api/catalogue');
    const list = document.getElementById('processes');
    list.replaceChildren(...catalogue.processes.map(processCard));
    document.getElementById('processes-empty').hidden = catalogue.processes.length > 0;
    const box = document.getElementById('messages');
    for (const message of catalogue.messages) box.append(await messageCard(message, user));
    document.getElementById('messages-empty').hidden = catalogue.messages.length > 0;
  }

  function processCard(p) {
    const button = el('button', {type: 'button', class: 'primary', id: `start-${p.key}`,
      onclick: () => startProcess(p, button)}, `Start: ${p.name}`);
    return el('li', {class: 'card', id: `process-${p.key}`},
      el('h3', {}, p.name), p.description ? el('p', {}, p.description) : null, button);
  }

  async function startProcess(p, button) {
    button.disabled = true;
    try {
      const created = await api('POST', '/api/cases', {process: p.key});
      const first = (created.tasks || [])[0];
      carryNotice(`Started "${p.name}" (case ${created.business_key}).`);
      location.assign(first ? `/tasks/${encodeURIComponent(first.id)}` : `/cases/${encodeURIComponent(created.id)}`);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      Accredit.showError(`Could not start "${p.name}": ${e.message}`);
      button.disabled = false;
    }
  }

  async function messageCard(m, user) {
    const id = `message-${m.message}`;
    const holder = el('div', {class: 'form-editor'});
    const error = el('div', {class: 'banner error inline', role: 'alert', hidden: true});
    const staff = !user.roles.includes('applicant');
    const org = staff ? el('div', {class: 'field'}, el('label', {for: `${id}-org`}, 'Organisation (id)'),
      el('input', {id: `${id}-org`, required: true, 'aria-required': 'true'})) : null;
    const button = el('button', {type: 'submit', class: 'primary'}, `Send: ${m.name}`);
    const form = el('form', {class: 'card', id, novalidate: true, 'aria-labelledby': `${id}-title`},
      el('h3', {id: `${id}-title`}, m.name), m.description ? el('p', {}, m.description) : null,
      error, org, holder, el('div', {class: 'actions'}, button));
    const editor = m.form ? await AccreditForms.create(holder, m.form) : null;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.hidden = true;
      const body = {payload: editor ? AccreditForms.prune(editor.getValue()) : {}};
      if (org) body.organisation_id = org.querySelector('input').value.trim() || undefined;
      const missing = editor ? AccreditForms.missing(editor, m.form) : [];
      if (missing.length) {
        error.replaceChildren(el('p', {}, `Please fill in: ${missing.join(', ')}.`));
        error.hidden = false;
        return;
      }
      button.disabled = true;
      try {
        const result = await api('POST', `/api/messages/${encodeURIComponent(m.message)}`, body);
        notice(`Sent "${m.name}" to ${result.case_ids.length} case${result.case_ids.length === 1 ? '' : 's'}.`);
        if (result.case_ids.length) {
          carryNotice(`Sent "${m.name}".`);
          location.assign(`/cases/${encodeURIComponent(result.case_ids[0])}`);
        }
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        error.replaceChildren(el('p', {}, e.message));
        error.hidden = false;
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  start();
})();
