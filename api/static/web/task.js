/* "/tasks/<id>": the task's form, rendered from its JSON Schema by json-editor; Submit completes the task
   (POST /api/tasks/{id}/complete). The server validates: its 422 errors are shown next to the fields. */
'use strict';

(() => {
  const {api, ApiError, me, notice, utc, el, meta, carryNotice} = Accredit;
  const section = document.getElementById('task');
  const taskId = section.dataset.taskId;
  const errorBox = document.getElementById('form-errors');
  let task = null;
  let editor = null;

  /** File types the server accepts (docs/api-guide.md, Attachments): a hint for the file chooser only. */
  const ACCEPT = '.pdf,.png,.jpg,.jpeg,.txt,.csv,.docx,.xlsx,.odt,application/pdf,image/png,image/jpeg,text/plain,' +
    'text/csv,application/vnd.openxmlformats-officedocument.wordprocessingml.document,' +
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/vnd.oasis.opendocument.text';
  /** sha256 -> attachment record of this task's case (filled at start, and by every upload). */
  const files = new Map();

  /** json-editor's text editor plus a file picker: choosing a file uploads it to the case
      (POST /api/cases/{id}/attachments) and puts the returned sha256 in the field. The field shows the file's
      name with a download link; a refusal (422/413) shows the server's detail under the picker. */
  function defineAttachmentEditor(caseId) {
    const Base = JSONEditor.defaults.editors.string;
    class AttachmentEditor extends Base {
      build() {
        super.build();
        const id = `upload-${this.path.replace(/[^A-Za-z0-9]+/g, '-')}`;
        const name = this.schema.title || this.key;
        this.picker = el('input', {type: 'file', id, accept: ACCEPT, class: 'attachment-picker',
          'aria-describedby': `${id}-status`});
        this.fileInfo = el('span', {class: 'attachment-file', id: `${id}-status`, 'aria-live': 'polite'});
        this.uploadError = el('p', {class: 'upload-error error-text', role: 'alert', hidden: true});
        this.picker.addEventListener('change', () => this.uploadChosen());
        // the stored value is the file's sha256: never an editable hash, the person sees the file itself
        this.input.type = 'hidden';
        this.remove = el('button', {type: 'button', class: 'small', hidden: true,
          onclick: () => { this.setValue(''); this.onChange(true); this.picker.focus(); }}, `Remove file (${name})`);
        this.control.append(el('div', {class: 'attachment', dataset: {path: this.path}},
          el('label', {for: id, class: 'attachment-label'}, `Upload a file (${name})`), this.picker,
          this.fileInfo, this.remove, this.uploadError));
        this.showFile();
      }

      setValue(value, initial, fromTemplate) {
        const result = super.setValue(value, initial, fromTemplate);
        this.showFile();
        return result;
      }

      showFile() {
        if (!this.fileInfo) return;
        const sha = this.getValue();
        if (this.remove) this.remove.hidden = !sha;
        if (!sha) { this.fileInfo.replaceChildren('No file uploaded yet.'); return; }
        const file = files.get(sha);
        const href = `/api/cases/${encodeURIComponent(caseId)}/attachments/${encodeURIComponent(sha)}`;
        this.fileInfo.replaceChildren(file
          ? el('span', {}, 'File: ', el('a', {href, class: 'attachment-link', download: file.filename}, file.filename),
            ` (${Accredit.size(file.size)})`)
          : el('span', {}, 'File: ', el('a', {href, class: 'attachment-link'}, `${sha.slice(0, 12)}…`),
            ' (not a file of this case)'));
      }

      async uploadChosen() {
        const file = this.picker.files && this.picker.files[0];
        if (!file) return;
        this.uploadError.hidden = true;
        this.picker.disabled = true;
        this.fileInfo.replaceChildren(`Uploading ${file.name}…`);
        try {
          const record = await Accredit.upload(caseId, file);
          files.set(record.sha256, record);
          this.setValue(record.sha256);
          this.onChange(true);
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          this.uploadError.textContent = `${file.name}: ${e.message}`;
          this.uploadError.hidden = false;
          this.showFile();
        } finally {
          this.picker.disabled = false;
          this.picker.value = '';
        }
      }
    }
    JSONEditor.defaults.editors.accreditAttachment = AttachmentEditor;
    JSONEditor.defaults.resolvers.unshift((schema) => (
      schema.type === 'string' && schema.options && schema.options.accredit_attachment ? 'accreditAttachment'
        : undefined));
  }

  function metaPairs() {
    return [
      ['Case', el('a', {href: `/cases/${encodeURIComponent(task.case_id)}`}, task.business_key || 'open the case')],
      ['Process', task.process_name || task.process_key],
      ['Role', task.role],
      ['Status', task.status],
      ['Due', task.due_at ? el('span', {}, utc(task.due_at),
        task.overdue ? el('span', {class: 'badge overdue'}, 'overdue') : null) : null],
      ['Assigned to', task.assignee],
      ['Claimed by', task.claimed_by],
    ];
  }

  async function start() {
    notice();
    const user = await me();
    if (!user) { location.assign(Accredit.signInUrl()); return; }
    try {
      task = await api('GET', `/api/tasks/${encodeURIComponent(taskId)}`);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      document.getElementById('task-title').textContent = 'Task not available';
      Accredit.showError(e.message);
      return;
    }
    document.title = `${task.name || task.element_id} · accredit`;
    document.getElementById('task-title').textContent = task.name || task.element_id;
    meta(document.getElementById('task-meta'), metaPairs());
    await showContext();
    const form = document.getElementById('task-form');
    if (task.status !== 'ready') {
      Accredit.notice(`This task is ${task.status}; there is nothing to submit.`);
      return;
    }
    form.hidden = false;
    const schema = task.form && task.form.schema;
    if (schema && schema.properties && Object.keys(schema.properties).length) {
      if (/attachment/i.test(JSON.stringify(schema))) {
        for (const f of await api('GET', `/api/cases/${encodeURIComponent(task.case_id)}/attachments`)) {
          files.set(f.sha256, f);
        }
      }
      defineAttachmentEditor(task.case_id);
      editor = await AccreditForms.create(document.getElementById('form-editor'), schema, task.form && task.form.data);
    } else {
      document.getElementById('no-form').hidden = false;
    }
    if (task.signature_meaning) {
      document.getElementById('signature').hidden = false;
      document.getElementById('signature-label').textContent = `Sign (${task.signature_meaning})`;
      document.getElementById('signature-text').textContent =
        `Submitting this task records your electronic signature with the meaning "${task.signature_meaning}". ` +
        'Re-enter your password to sign.';
    }
    coordinatorTools(user);
    form.addEventListener('submit', submit);
    form.addEventListener('input', clearFixed);
    form.addEventListener('change', clearFixed);
    const first = form.querySelector('input:not([type=hidden]), select, textarea');
    if (first) first.focus();
  }

  /** Claim only where it means something (nobody holds the task and the diagram names nobody); a coordinator
      releases a claimed task and assigns it to a user holding its role (POST /api/tasks/{id}/unclaim, /assign). */
  function coordinatorTools(user) {
    const claim = document.getElementById('claim');
    const mine = task.claimed_by === user.username;
    claim.hidden = Boolean(task.claimed_by || task.assignee);
    claim.onclick = async () => {
      await act('claim', {}, 'You claimed this task.');
    };
    const release = document.getElementById('release');
    release.hidden = !task.claimed_by || !(mine || user.roles.includes('coordinator'));
    release.textContent = mine ? 'Release (give back)' : `Release from ${task.claimed_by}`;
    release.onclick = () => act('unclaim', undefined, 'The task is released: anyone holding its role may take it.');
    const tools = document.getElementById('assign-tools');
    if (!user.roles.includes('coordinator') || task.assignee) return;
    tools.hidden = false;
    const select = document.getElementById('assign-to');
    api('GET', `/api/people?role=${encodeURIComponent(task.role)}`).then((people) => {
      select.replaceChildren(el('option', {value: ''}, '— choose a person —'),
        ...people.filter((p) => p.username !== task.claimed_by)
          .map((p) => el('option', {value: p.username}, `${p.display_name} (${p.username})`)));
    });
    document.getElementById('assign').onclick = async () => {
      if (!select.value) { select.focus(); return; }
      await act('assign', {username: select.value}, `Assigned to ${select.value}.`);
    };
  }

  async function act(what, body, message) {
    try {
      // the answer is the task without its form and names: keep what the page read first
      task = {...task, ...await api('POST', `/api/tasks/${encodeURIComponent(taskId)}/${what}`, body),
              process_name: task.process_name, business_key: task.business_key};
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      Accredit.showError(e.message);
      return;
    }
    notice(message);
    meta(document.getElementById('task-meta'), metaPairs());
    coordinatorTools(await me());
  }

  /** The earlier answers this task's diagram says to show (showForms), read-only, above the form. */
  async function showContext() {
    const sections = await api('GET', `/api/tasks/${encodeURIComponent(taskId)}/context`);
    if (!sections.length) return;
    if (JSON.stringify(sections).match(/"[0-9a-f]{64}"/)) {
      for (const f of await api('GET', `/api/cases/${encodeURIComponent(task.case_id)}/attachments`)) {
        files.set(f.sha256, f);
      }
    }
    const holder = document.getElementById('context-sections');
    holder.replaceChildren(...sections.map((sec) => AccreditForms.renderSection(sec, {files, caseId: task.case_id})));
    document.getElementById('context').hidden = false;
    document.getElementById('form-title').hidden = false;
  }

  function clearErrors() {
    errorBox.hidden = true;
    errorBox.replaceChildren();
    for (const n of document.querySelectorAll('.field-error')) n.remove();
    for (const n of document.querySelectorAll('[aria-invalid=true]')) n.removeAttribute('aria-invalid');
  }

  /** "/sites/0/address" -> the editor of that field, if the form shows one. */
  function editorFor(pointer) {
    if (!editor || !pointer || pointer === '/') return null;
    const path = 'root' + pointer.split('/').slice(1).map((p) => '.' + p.replace(/~1/g, '/').replace(/~0/g, '~')).join('');
    return editor.getEditor(path) || null;
  }

  /** "/sites/0/address" -> "Sites › 1 › Address": the field as the form names it, never a JSON pointer. */
  function fieldLabel(pointer) {
    if (pointer === '/signature/password') return 'Signature password';
    const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const names = [];
    let path = 'root';
    for (const part of parts) {
      path += `.${part}`;
      const ed = editor && editor.getEditor(path);
      if (/^\d+$/.test(part)) names.push(String(Number(part) + 1));
      else names.push((ed && ed.schema && ed.schema.title) || AccreditForms.humanise(part));
    }
    return names.join(' › ') || 'The form';
  }

  /** A validator's message in words: no echoed values, patterns or schema keywords. */
  function words(message) {
    const m = String(message || '');
    if (/is a required property|^is required$/.test(m)) return 'is required';
    if (/should be non-empty|is too short|expected at least/.test(m) && /^\[/.test(m)) return 'choose or add at least one';
    if (/should be non-empty|is too short/.test(m)) return 'must not be empty';
    if (/is too long/.test(m)) return 'is too long';
    if (/does not match/.test(m)) return 'is not in the expected format';
    if (/is not one of|is not valid under any/.test(m)) return 'choose one of the offered answers';
    if (/is not of type 'integer'/.test(m)) return 'must be a whole number';
    if (/is not of type 'number'/.test(m)) return 'must be a number';
    if (/is not a '?date'?/.test(m)) return 'must be a date (YYYY-MM-DD)';
    if (/is less than the minimum|less than or equal/.test(m)) return 'is too small';
    if (/is greater than the maximum|greater than or equal/.test(m)) return 'is too large';
    if (/was expected/.test(m)) return 'must be confirmed';
    return m;
  }

  /** Server errors, once each, next to their field and in the summary; a field's error clears when it changes. */
  function showProblem(problem) {
    clearErrors();
    const errors = problem.errors || [];
    errorBox.append(el('p', {}, el('strong', {}, errors.length
      ? 'Some answers need attention before this task can be completed:'
      : (problem.detail || problem.title || 'The task was not completed.'))));
    const list = el('ul');
    const seen = new Set();
    for (const error of errors) {
      const field = error.field || '/';
      const text = words(error.message);
      if (seen.has(`${field}\n${text}`)) continue;
      seen.add(`${field}\n${text}`);
      const fieldEditor = editorFor(field);
      const input = fieldEditor && fieldEditor.input;
      list.append(el('li', {dataset: {field}}, el('strong', {}, fieldLabel(field)), `: ${text}`));
      if (field === '/signature/password') {
        const pw = document.getElementById('signature-password');
        pw.setAttribute('aria-invalid', 'true');
        pw.after(el('p', {class: 'field-error', dataset: {field}}, text));
      } else if (fieldEditor && fieldEditor.container) {
        if (input) input.setAttribute('aria-invalid', 'true');
        const id = `error-${field.replace(/[^A-Za-z0-9]+/g, '-')}`;
        fieldEditor.container.append(el('p', {class: 'field-error', id, dataset: {field}}, text));
        if (input) input.setAttribute('aria-describedby', [input.getAttribute('aria-describedby'), id].filter(Boolean).join(' '));
      }
    }
    if (list.children.length) errorBox.append(list);
    errorBox.hidden = false;
    errorBox.focus();
  }

  /** A field's error goes away as soon as the person changes that field. */
  function clearFixed(event) {
    const holder = event.target.closest('[data-schemapath]') || event.target.parentElement;
    if (!holder) return;
    for (const n of holder.querySelectorAll(':scope > .field-error, :scope > * > .field-error')) {
      const item = errorBox.querySelector(`li[data-field="${CSS.escape(n.dataset.field)}"]`);
      if (item) item.remove();
      n.remove();
    }
    event.target.removeAttribute('aria-invalid');
    if (event.target.id === 'signature-password') {
      const n = document.querySelector('.field-error[data-field="/signature/password"]');
      if (n) n.remove();
      const item = errorBox.querySelector('li[data-field="/signature/password"]');
      if (item) item.remove();
    }
    if (!errorBox.querySelector('li')) { errorBox.hidden = true; errorBox.replaceChildren(); }
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors();
    const button = document.getElementById('submit');
    const body = {data: editor ? AccreditForms.value(editor) : {}};
    if (task.signature_meaning) {
      body.signature = {password: document.getElementById('signature-password').value,
        meaning: task.signature_meaning};
      if (!body.signature.password) {
        showProblem({detail: 'This task is an electronic signature: enter your password to sign.',
          errors: [{field: '/signature/password', message: 'is required'}]});
        return;
      }
    }
    button.disabled = true;
    try {
      const result = await api('POST', `/api/tasks/${encodeURIComponent(taskId)}/complete`, body);
      carryNotice(`Completed "${task.name || task.element_id}" (case ${result.business_key}).`);
      location.assign('/');
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      showProblem(e.problem.detail ? e.problem : {detail: e.message});
      document.getElementById('signature-password').value = '';
    } finally {
      button.disabled = false;
    }
  }

  start();
})();
