/* A task's form: its JSON Schema as text and, beside it, the form as people will see it — rendered live by the
   same json-editor the task page uses. Invalid JSON is reported with its position and keeps the last preview. */
'use strict';

const StudioForms = (() => {
  const OPTIONS = {theme: 'html', iconlib: null, disable_edit_json: true, disable_properties: true,
    disable_collapse: true, no_additional_properties: true, show_errors: 'never', use_default_values: false,
    prompt_before_delete: false, compact: false};

  /** The schema as the task page renders it (api/static/web/task.js): local $refs inlined, conditional rules
      (if/then/else, contains) left to the server, yes/no as a checkbox, fields in the schema's order. */
  function forPreview(schema) {
    const copy = JSON.parse(JSON.stringify(schema));
    const defs = {...(copy.definitions || {}), ...(copy.$defs || {})};
    ['$schema', '$defs', 'definitions', '$id'].forEach((k) => delete copy[k]);
    if (!copy.title) copy.options = {...(copy.options || {}), compact: true};
    const walk = (node, depth = 0) => {
      if (!node || typeof node !== 'object' || depth > 40) return node;
      if (Array.isArray(node)) return node.map((n) => walk(n, depth + 1));
      const ref = typeof node.$ref === 'string' && node.$ref.match(/^#\/(?:\$defs|definitions)\/(.+)$/);
      if (ref && defs[ref[1]]) {
        const {$ref, ...rest} = node;
        return walk({...JSON.parse(JSON.stringify(defs[ref[1]])), ...rest}, depth + 1);
      }
      ['if', 'then', 'else', 'contains'].forEach((k) => delete node[k]);
      if (node.type === 'boolean' && !node.format) node.format = 'checkbox';
      if (Array.isArray(node.allOf)) {
        node.allOf = node.allOf.filter((part) => Object.keys(part).some((k) => !['if', 'then', 'else', 'contains'].includes(k)));
        if (!node.allOf.length) delete node.allOf;
      }
      if (node.properties && typeof node.properties === 'object') {
        Object.values(node.properties).forEach((prop, i) => {
          if (prop && typeof prop === 'object' && prop.propertyOrder === undefined) prop.propertyOrder = i + 1;
        });
      }
      for (const [k, v] of Object.entries(node)) node[k] = walk(v, depth + 1);
      return node;
    };
    return walk(copy);
  }

  class FormEditor {
    /** source: <textarea>; preview: container; error: where a JSON error is shown; changed(text): on each edit. */
    constructor(source, preview, error, changed) {
      this.source = source;
      this.preview = preview;
      this.error = error;
      this.changed = changed;
      this.editor = null;
      this.timer = null;
      source.addEventListener('input', () => {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.render(true), 250);
      });
    }

    /** Open a file (its text): show it and its preview. */
    open(name, text) {
      this.name = name;
      this.source.value = text;
      this.render(false);
    }

    render(edited) {
      let schema;
      try {
        schema = JSON.parse(this.source.value);
      } catch (e) {
        this.error.textContent = `Not valid JSON: ${e.message}`;
        this.source.setAttribute('aria-invalid', 'true');
        if (edited) this.changed(this.source.value);
        return;
      }
      this.error.textContent = '';
      this.source.removeAttribute('aria-invalid');
      if (edited) this.changed(this.source.value);
      if (this.name && this.name.endsWith('.uischema.json')) {
        this.show(null, 'A UI schema arranges the fields of its form; open the form to preview it.');
        return;
      }
      this.show(schema);
    }

    show(schema, message) {
      if (this.editor) {
        this.editor.destroy();
        this.editor = null;
      }
      this.preview.replaceChildren();
      if (!schema) {
        this.preview.append(Accredit.el('p', {class: 'muted'}, message));
        return;
      }
      try {
        this.editor = new JSONEditor(this.preview, {...OPTIONS, schema: forPreview(schema)});
      } catch (e) {
        this.error.textContent = `The form cannot be shown: ${e.message}`;
      }
    }
  }

  return {FormEditor};
})();
