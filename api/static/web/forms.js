/* Forms shared by the task page and the start page: a JSON Schema turned into an editable form (json-editor),
   with the conventions people can trust (no pre-selected decision, no pre-ticked box, human labels), and the
   answer pruned to what was actually given. */
'use strict';

const AccreditForms = (() => {
  // json-editor's own inline messages (e.g. a date field's "Date must be in the format …" while it is still
  // empty) appear before the person has acted, in its words: errors are shown by the page, once, from the server
  JSONEditor.defaults.themes.html.prototype.addInputError = function addInputError() {};
  // json-editor "purifies" every typed value without DOMPurify by stripping anything tag-like, so "<b>North</b>"
  // or "dose < 5 and > 2" was silently changed (even in signed forms). Values only ever reach input.value and
  // text nodes here (never innerHTML), so what a person types is kept exactly as typed.
  for (const Editor of [JSONEditor.AbstractEditor, ...Object.values(JSONEditor.defaults.editors)]) {
    if (Editor && Editor.prototype && typeof Editor.prototype.purify === 'function') {
      Editor.prototype.purify = function keepAsTyped(value) { return value; };
    }
  }
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
      // ... but a yes/no *decision* (conflict of interest, dates confirmed, team objection, membership active) is
      // an explicit choice that starts unanswered: an untouched checkbox would record "no" nobody gave
      // (json-editor's select loses a chosen `false`: the choice is made on "true"/"false" and turned back into a
      // boolean by value())
      if (node.type === 'boolean' && node.const !== true && !node.enum) {
        node.type = 'string';
        node.enum = ['true', 'false'];
        node.options = {...(node.options || {}), enum_titles: ['Yes', 'No'], accredit_boolean: true};
        delete node.format;
        if (typeof node.default === 'boolean') node.default = String(node.default);
      }
      if (node.type === 'boolean' && !node.format && !node.enum) node.format = 'checkbox';
      // a duration is read in words (label()); json-editor knows no such input format
      if (node.format === 'duration') {
        if (Array.isArray(node.enum) && !(node.options && node.options.enum_titles)) {
          node.options = {...(node.options || {}), enum_titles: node.enum.map((v) => duration(v) || String(v))};
        }
        delete node.format;
      }
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
      // a choice written as oneOf [{const, title}] is a select showing the titles, storing the consts
      if (Array.isArray(node.oneOf) && node.oneOf.length && node.oneOf.every((o) => o && 'const' in o)) {
        node.enum = node.oneOf.map((o) => o.const);
        node.options = {...(node.options || {}), enum_titles: node.oneOf.map((o) => o.title || String(o.const))};
        delete node.oneOf;
      }
      if (Array.isArray(node.enum) && !(node.options && node.options.enum_titles)) {
        node.options = {...(node.options || {}), enum_titles: node.enum.map(humanise)};
      }
      if (Array.isArray(node.enum) && node.default === undefined) {
        node.options = {...(node.options || {}), has_placeholder_option: true, placeholder_option_text: '— choose —'};
      }
      for (const value of Object.values(node)) walk(value);
    })(copy);
    return copy;
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
    const asChoices = (v) => (typeof v === 'boolean' ? String(v) : Array.isArray(v) ? v.map(asChoices)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asChoices(x)])) : v);
    for (const [key, value] of Object.entries(data)) {
      const field = ed.getEditor(`root.${key}`);
      if (field) field.setValue(field.schema && field.schema.type === 'boolean' ? value : asChoices(value));
    }
    const given = (path) => path.split('.').slice(1).reduce(
      (node, part) => (node !== undefined && node !== null ? node[part] : undefined), data) !== undefined;
    const filled = new WeakSet();
    for (const [path, field] of Object.entries(ed.editors)) {
      if (field && field.hasPlaceholderOption && !given(path)) field.setValue(undefined);
      // json-editor starts a number at 0: leave it empty until someone types one (value() then leaves it out)
      if (isNumber(field) && !given(path)) field.input.value = '';
      if (field) filled.add(field);
    }
    // ... and so does every number of a row added later (a list of objects, e.g. rendered as a table): a new
    // row's numbers start empty too — only fields nobody has seen yet, never one someone typed in
    ed.on('change', () => {
      for (const field of Object.values(ed.editors)) {
        if (!field || filled.has(field)) continue;
        filled.add(field);
        if (isNumber(field)) field.input.value = '';
      }
    });
  }

  function isNumber(field) {
    return Boolean(field && field.input && field.schema && ['integer', 'number'].includes(field.schema.type));
  }


  /** Fields asking for a person ("format": "user:<role>") become a choice among the users holding the role
      (GET /api/people, staff only); where the list is not available the field stays a text field. */
  async function withPeople(schema) {
    const roles = new Set();
    (function walk(node) {
      if (!node || typeof node !== 'object') return;
      if (typeof node.format === 'string' && node.format.startsWith('user:')) roles.add(node.format.slice(5));
      Object.values(node).forEach(walk);
    })(schema);
    const people = new Map();
    await Promise.all([...roles].map(async (role) => {
      try {
        people.set(role, await Accredit.api('GET', `/api/people?role=${encodeURIComponent(role)}`));
      } catch (e) {
        if (!(e instanceof Accredit.ApiError)) throw e;
      }
    }));
    (function walk(node) {
      if (!node || typeof node !== 'object') return;
      const role = typeof node.format === 'string' && node.format.startsWith('user:') ? node.format.slice(5) : null;
      if (role && people.has(role) && people.get(role).length) {
        const list = people.get(role);
        node.enum = list.map((u) => u.username);
        node.options = {...(node.options || {}), enum_titles: list.map((u) => `${u.display_name} (${u.username})`),
          has_placeholder_option: true, placeholder_option_text: '— choose —'};
        delete node.format;
        delete node.pattern;
      }
      Object.values(node).forEach(walk);
    })(schema);
    return schema;
  }

  /** An editor on `holder` for `schema`; resolves once it is ready, filled with `data`. */
  async function create(holder, schema, data = {}) {
    const prepared = await withPeople(forEditor(schema));
    const editor = new JSONEditor(holder, {
      schema: prepared, theme: 'html',
      iconlib: null, disable_edit_json: true, disable_properties: true, disable_collapse: true,
      disable_array_delete_last_row: true, disable_array_delete_all_rows: true, no_additional_properties: true,
      show_errors: 'never', use_default_values: false, prompt_before_delete: false, compact: false,
    });
    await new Promise((resolve) => editor.on('ready', resolve));
    // json-editor shows its start-up validation whatever show_errors says (with use_default_values off, every
    // list row's required fields read "Object is missing the required property …"): nothing before the
    // person acts; the server's errors are shown next to their fields (task.js)
    editor.root.showValidationErrors([]);
    fill(editor, data || {});
    return editor;
  }

  /** Titles of the required top-level fields left empty (checked before sending; the server checks again). */
  function missing(editor, schema) {
    const value = editor.getValue() || {};
    return (schema.required || []).filter((k) => value[k] === undefined || value[k] === '' || value[k] === null)
      .map((k) => (schema.properties && schema.properties[k] && schema.properties[k].title) || k);
  }

  /** "grant_pending_corrections" -> "Grant pending corrections": a raw value never reaches a person as is. */
  function humanise(value) {
    if (typeof value !== 'string') return String(value);
    const words = value.replace(/_/g, ' ');
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  /** Every property name of a schema (nested objects, list items, $defs) -> its sub-schema: titles and choice
      labels for a value whose shape is close to, but not exactly, the form's (e.g. collected checklists). */
  function propertyIndex(schema) {
    const index = new Map();
    (function walk(node, depth) {
      if (!node || typeof node !== 'object' || depth > 12) return;
      if (Array.isArray(node)) { node.forEach((n) => walk(n, depth + 1)); return; }
      if (node.properties && typeof node.properties === 'object') {
        for (const [k, v] of Object.entries(node.properties)) if (!index.has(k)) index.set(k, v);
      }
      for (const v of Object.values(node)) walk(v, depth + 1);
    })(schema, 0);
    return index;
  }

  function resolve(node, root) {
    const ref = node && typeof node.$ref === 'string' && node.$ref.match(/^#\/(\$defs|definitions)\/(.+)$/);
    return ref && root && root[ref[1]] && root[ref[1]][ref[2]] ? {...root[ref[1]][ref[2]], ...node, $ref: undefined} : node;
  }

  const DURATION = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;
  const DURATION_UNITS = ['year', 'month', 'week', 'day', 'hour', 'minute', 'second'];

  /** An ISO 8601 duration in words: "P45D" -> "45 days", "P6M" -> "6 months", "P1Y2M" -> "1 year and 2 months";
      null when the value is not one. */
  function duration(value) {
    const m = typeof value === 'string' && value !== 'P' && !value.endsWith('T') ? value.match(DURATION) : null;
    if (!m) return null;
    const parts = DURATION_UNITS.map((unit, i) => (m[i + 1] === undefined ? null
      : `${Number(m[i + 1])} ${unit}${Number(m[i + 1]) === 1 ? '' : 's'}`)).filter(Boolean);
    return parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}` : parts[0];
  }

  /** A value's label: oneOf title, a duration in words (`format: "duration"`), humanised enum, Yes/No. */
  function label(value, schema) {
    if (schema && Array.isArray(schema.oneOf)) {
      const hit = schema.oneOf.find((o) => o && o.const === value);
      if (hit && hit.title) return hit.title;
    }
    if (schema && schema.format === 'duration' && duration(value)) return duration(value);
    if (typeof value === 'boolean') return value ? 'Yes' : 'No';
    if (schema && Array.isArray(schema.enum)) return humanise(value);
    return String(value);
  }

  /** Render a value read-only, as text (never HTML), with the titles and choice labels of its schema. An
      attachment id of the case becomes a download link with the file's name and size. */
  function renderValue(value, schema, ctx) {
    const {el} = Accredit;
    schema = resolve(schema || {}, ctx.root);
    if (value === null || value === undefined || value === '') return el('span', {class: 'muted'}, '—');
    if (Array.isArray(value)) {
      if (!value.length) return el('span', {class: 'muted'}, 'none');
      const itemSchema = resolve(schema.items || {}, ctx.root);
      if (value.every((v) => v === null || typeof v !== 'object')) {
        return el('ul', {class: 'values'}, value.map((v) => el('li', {}, renderValue(v, itemSchema, ctx))));
      }
      return el('ol', {class: 'value-list'}, value.map((v) => el('li', {}, renderValue(v, itemSchema, ctx))));
    }
    if (typeof value === 'object') {
      const props = schema.properties || {};
      const keys = [...Object.keys(props).filter((k) => k in value), ...Object.keys(value).filter((k) => !(k in props))];
      return el('dl', {class: 'values'}, keys.map((k) => {
        const sub = resolve(props[k] || ctx.index.get(k) || {}, ctx.root);
        return el('div', {}, el('dt', {}, sub.title || humanise(k)), el('dd', {}, renderValue(value[k], sub, ctx)));
      }));
    }
    if (typeof value === 'string' && /^[0-9a-f]{64}$/.test(value) && ctx.files) {
      const file = ctx.files.get(value);
      const href = `/api/cases/${encodeURIComponent(ctx.caseId)}/attachments/${value}`;
      return file ? el('span', {}, el('a', {href, download: file.filename}, file.filename), ` (${Accredit.size(file.size)})`)
        : el('a', {href}, `file ${value.slice(0, 12)}…`);
    }
    return el('span', {class: 'value-text'}, label(value, schema));
  }

  /** One read-only section of a task's decision context (GET /api/tasks/{id}/context). */
  function renderSection(section, ctx) {
    const {el} = Accredit;
    const schema = section.schema || {};
    const inner = {...ctx, root: schema, index: propertyIndex(schema)};
    return el('section', {class: 'context card', 'aria-label': section.title},
      el('h3', {}, section.title),
      section.description ? el('p', {class: 'muted'}, section.description) : null,
      renderValue(section.value, Array.isArray(section.value) && section.variable ? {items: schema} : schema, inner));
  }

  /** The answer to send: empty text and unset choices left out, and a number field left empty is absent (json-editor
      would report 0, an answer nobody gave). */
  function value(editor) {
    const out = prune(editor.getValue());
    for (const [path, field] of Object.entries(editor.editors || {})) {
      if (field && field.schema && field.schema.options && field.schema.options.accredit_boolean) {
        const parts = path.split('.').slice(1);
        let node = out;
        for (const part of parts.slice(0, -1)) node = node && typeof node === 'object' ? node[part] : undefined;
        const key = parts[parts.length - 1];
        if (node && typeof node === 'object' && (node[key] === 'true' || node[key] === 'false')) {
          node[key] = node[key] === 'true';
        }
      }
    }
    for (const [path, field] of Object.entries(editor.editors || {})) {
      if (!field || !field.input || !field.schema || !['integer', 'number'].includes(field.schema.type)) continue;
      if (field.input.value !== '') continue;
      const parts = path.split('.').slice(1);
      let node = out;
      for (const part of parts.slice(0, -1)) node = node && typeof node === 'object' ? node[part] : undefined;
      if (node && typeof node === 'object') delete node[parts[parts.length - 1]];
    }
    return out;
  }

  return {forEditor, prune, fill, create, missing, humanise, duration, renderValue, renderSection, value};
})();
