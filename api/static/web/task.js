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

  /** Local "$ref"s ("#/$defs/x", "#/definitions/x") replaced by a copy of what they point to: json-editor
      does not know draft 2020-12's $defs. */
  function inlineRefs(node, root, depth = 0) {
    if (!node || typeof node !== 'object' || depth > 20) return node;
    if (Array.isArray(node)) return node.map((n) => inlineRefs(n, root, depth));
    let out = node;
    const ref = typeof node.$ref === 'string' && node.$ref.match(/^#\/(\$defs|definitions)\/(.+)$/);
    if (ref && root[ref[1]] && root[ref[1]][ref[2]]) {
      const {$ref, ...rest} = node;
      out = {...JSON.parse(JSON.stringify(root[ref[1]][ref[2]])), ...rest};
      return inlineRefs(out, root, depth + 1);
    }
    const copy = {};
    for (const [k, v] of Object.entries(out)) copy[k] = inlineRefs(v, root, depth);
    return copy;
  }

  /** A copy of the schema for the editor: selects without a default start empty ("choose…") rather than on
      their first value, so a decision is never pre-selected for the user. */
  function forEditor(schema) {
    const copy = inlineRefs(JSON.parse(JSON.stringify(schema)), schema);
    delete copy.$schema;
    delete copy.$defs;
    delete copy.definitions;  // json-editor does not fetch meta-schemas; the server validates draft 2020-12
    if (!copy.title) copy.options = {...(copy.options || {}), compact: true};  // no "root" heading
    (function walk(node) {
      if (!node || typeof node !== 'object') return;
      if (Array.isArray(node)) { node.forEach(walk); return; }
      // conditional requirements (if/then/else) are the server's to check: the editor would re-build fields
      // so are "contains" rules on lists (e.g. "at least one SOP")
      delete node.if; delete node.then; delete node.else; delete node.contains;
      // a yes/no answer is a checkbox ("I sign …" must be ticked), not a select that starts on "false"
      if (node.type === 'boolean' && !node.format) node.format = 'checkbox';
      if (Array.isArray(node.allOf)) {
        node.allOf = node.allOf.filter((part) => Object.keys(part).some(
          (k) => !['if', 'then', 'else', 'contains'].includes(k)));
        if (!node.allOf.length) delete node.allOf;
      }
      if (node.properties && typeof node.properties === 'object') {  // keep the schema's field order
        Object.values(node.properties).forEach((prop, i) => {
          if (prop && typeof prop === 'object' && prop.propertyOrder === undefined) prop.propertyOrder = i + 1;
        });
        // a text field named "...attachment..." holds the sha256 of a file of the case: give it a file picker
        for (const [key, prop] of Object.entries(node.properties)) {
          if (!/attachment/i.test(key) || !prop || typeof prop !== 'object') continue;
          const target = prop.type === 'array' && prop.items && typeof prop.items === 'object' ? prop.items : prop;
          if (target.type === 'string') target.options = {...(target.options || {}), accredit_attachment: true};
        }
      }
      if (Array.isArray(node.enum) && node.default === undefined) {
        node.options = {...(node.options || {}), has_placeholder_option: true, placeholder_option_text: '— choose —'};
      }
      for (const value of Object.values(node)) walk(value);
    })(copy);
    return copy;
  }

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
        this.control.append(el('div', {class: 'attachment', dataset: {path: this.path}},
          el('label', {for: id, class: 'attachment-label'}, `Upload a file (${name})`), this.picker,
          this.fileInfo, this.uploadError));
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

  /** Drop empty text and unset values, so an optional field left blank is absent (not ""), as the server expects. */
  function prune(value) {
    if (Array.isArray(value)) return value.map(prune);
    if (value && typeof value === 'object') {
      const out = {};
      for (const [k, v] of Object.entries(value)) {
        if (v === '' || v === undefined) continue;
        out[k] = prune(v);
      }
      return out;
    }
    return value;
  }

  /** Put the form's current values in (field by field: json-editor's startval would drop every optional field
      that has no value yet), and leave choices nobody made empty. */
  function fill(ed, data) {
    for (const [key, value] of Object.entries(data)) {
      const field = ed.getEditor(`root.${key}`);
      if (field) field.setValue(value);
    }
    const given = (path) => path.split('.').slice(1).reduce(
      (node, part) => (node !== undefined && node !== null ? node[part] : undefined), data) !== undefined;
    for (const [path, field] of Object.entries(ed.editors)) {
      if (field && field.hasPlaceholderOption && !given(path)) field.setValue(undefined);
    }
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
    meta(document.getElementById('task-meta'), [
      ['Case', el('a', {href: `/cases/${encodeURIComponent(task.case_id)}`}, 'open the case')],
      ['Process', task.process_key],
      ['Role', task.role],
      ['Status', task.status],
      ['Due', task.due_at ? el('span', {}, utc(task.due_at),
        task.overdue ? el('span', {class: 'badge overdue'}, 'overdue') : null) : null],
      ['Assigned to', task.assignee],
      ['Claimed by', task.claimed_by],
    ]);
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
      editor = new JSONEditor(document.getElementById('form-editor'), {
        schema: forEditor(schema), theme: 'html',
        iconlib: null, disable_edit_json: true, disable_properties: true, disable_collapse: true,
        disable_array_delete_last_row: true, disable_array_delete_all_rows: true, no_additional_properties: true,
        show_errors: 'never', use_default_values: false, prompt_before_delete: false, compact: false,
      });
      await new Promise((resolve) => editor.on('ready', resolve));
      fill(editor, (task.form && task.form.data) || {});
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
    const claim = document.getElementById('claim');
    if (!task.claimed_by) {
      claim.hidden = false;
      claim.addEventListener('click', async () => {
        await api('POST', `/api/tasks/${encodeURIComponent(taskId)}/claim`);
        notice('You claimed this task.');
        claim.hidden = true;
      });
    }
    form.addEventListener('submit', submit);
    const first = form.querySelector('input:not([type=hidden]), select, textarea');
    if (first) first.focus();
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

  function showProblem(problem) {
    clearErrors();
    errorBox.append(el('p', {}, el('strong', {}, problem.detail || problem.title || 'The task was not completed.')));
    const list = el('ul');
    for (const error of problem.errors || []) {
      const field = error.field || '/';
      const label = field === '/signature/password' ? 'Signature password' : field;
      const fieldEditor = editorFor(field);
      const input = fieldEditor && fieldEditor.input;
      const item = el('li', {dataset: {field}}, el('code', {}, label), ': ', error.message);
      list.append(item);
      if (field === '/signature/password') {
        const pw = document.getElementById('signature-password');
        pw.setAttribute('aria-invalid', 'true');
        pw.after(el('p', {class: 'field-error', dataset: {field}}, error.message));
      } else if (fieldEditor && fieldEditor.container) {
        if (input) input.setAttribute('aria-invalid', 'true');
        fieldEditor.container.append(el('p', {class: 'field-error', dataset: {field}}, error.message));
      }
    }
    if (list.children.length) errorBox.append(list);
    errorBox.hidden = false;
    errorBox.focus();
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors();
    const button = document.getElementById('submit');
    const body = {data: editor ? prune(editor.getValue()) : {}};
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
