/* The properties panel: what the engine reads from the selected element (docs/process-conventions.md), edited
   through the modeler's modeling API (so every change is on the undo stack and in the saved XML).

   lane name = role · user task: form, UI schema, assignee, priority, separateFrom, shareWith, signatureMeaning,
   pre/post scripts · script task: script, shareWith/shareVariables · business rule task: calledDecisionId ·
   timer: duration/date/cycle expression, scheduleKind · sequence flow: condition · message events: variable,
   payload. Any other property the engine reads on the element (the vocabulary the server declares,
   GET /api/process-definitions/vocabulary) gets a field under "More properties", so the panel offers exactly what
   validation accepts; the roles and signature meanings come from the same vocabulary. */
'use strict';

const StudioPanel = (() => {
  const {el} = Accredit;
  const TIMER_KINDS = [['timeDuration', 'Duration (e.g. "P30D")'], ['timeDate', 'Date (ISO 8601 with offset)'],
    ['timeCycle', 'Cycle (e.g. "R3/P1M")']];
  const SCHEDULE_KINDS = ['surveillance_audit', 'annual_report', 'renewal', 'expiry'];

  function is(bo, type) { return bo && typeof bo.$instanceOf === 'function' && bo.$instanceOf(type); }

  class Panel {
    /** modeler: a BpmnJS modeler; root: the panel's container; bundle(): {name: text} (forms for the pickers);
        vocabulary: the server's roles and properties ({roles, lane_roles, properties: [{name, elements, …}]}). */
    constructor(modeler, root, bundle, vocabulary) {
      this.modeler = modeler;
      this.vocabulary = vocabulary;
      this.root = root;
      this.bundle = bundle;
      this.modeling = modeler.get('modeling');
      this.moddle = modeler.get('moddle');
      this.element = null;
      modeler.on('selection.changed', ({newSelection}) => this.show(newSelection[0] || null));
      modeler.on('elements.changed', ({elements}) => {
        if (this.element && elements.some((e) => e.id === this.element.id) && !this.root.contains(document.activeElement)) {
          this.show(this.element);
        }
      });
      this.show(null);
    }

    show(element) {
      this.element = element;
      const body = this.root;
      body.replaceChildren();
      if (!element || element.type === 'label') {
        body.append(el('p', {class: 'muted'}, 'Select an element in the diagram to see what the engine reads from it.'));
        return;
      }
      const bo = element.businessObject;
      body.append(el('p', {class: 'element-type'}, element.type.replace('bpmn:', ''), ' ', el('code', {}, bo.id)));
      if (is(bo, 'bpmn:Lane')) {
        body.append(this.text('Role (the lane name)', bo.name || '', (v) => this.modeling.updateLabel(element, v),
          {name: 'role', list: 'studio-roles', help: 'Every user task in this lane is done by users holding this role.'}));
        return;
      }
      if (!is(bo, 'bpmn:Process') && !is(bo, 'bpmn:Collaboration')) {
        body.append(this.text('Name', bo.name || '', (v) => this.modeling.updateLabel(element, v), {name: 'name'}));
      }
      const lanes = is(bo, 'bpmn:FlowNode') ? bo.get('lanes') : [];
      if (lanes && lanes.length) {
        body.append(el('p', {class: 'role'}, 'Role (lane): ', el('strong', {}, lanes.map((l) => l.name).join(', '))));
      }
      if (is(bo, 'bpmn:UserTask')) this.userTask(element);
      else if (is(bo, 'bpmn:ScriptTask')) this.scriptTask(element);
      else if (is(bo, 'bpmn:BusinessRuleTask')) this.ruleTask(element);
      const timer = (bo.eventDefinitions || []).find((d) => is(d, 'bpmn:TimerEventDefinition'));
      if (timer) this.timer(element, timer);
      const message = (bo.eventDefinitions || []).find((d) => is(d, 'bpmn:MessageEventDefinition'));
      if (message) this.message(element, message);
      if (is(bo, 'bpmn:SequenceFlow') && bo.sourceRef && is(bo.sourceRef, 'bpmn:Gateway')) this.condition(element);
      this.more(element);
    }

    /** Every declared property the engine reads on this kind of element that no section above shows. */
    more(element) {
      const tag = element.businessObject.$type.replace(/^bpmn:/, '');
      const type = tag.charAt(0).toLowerCase() + tag.slice(1);
      const shown = new Set([...this.root.querySelectorAll('[data-prop]')].map((c) => c.dataset.prop));
      const rest = this.vocabulary.properties.filter((p) => p.elements.includes(type) && !shown.has(p.name));
      if (!rest.length) return;
      this.root.append(this.heading('More properties'), ...rest.map((p) => (p.choices
        ? this.choice(p.name, this.prop(element, p.name), ['', ...p.choices], (v) => this.setProp(element, p.name, v),
          p.name, p.description)
        : this.propText(element, p.name, `${p.name} (${p.format_text})`, p.description))));
    }

    meanings() {
      const declared = this.vocabulary.properties.find((p) => p.name === 'signatureMeaning');
      return declared ? declared.choices : [];
    }

    // -- sections -----------------------------------------------------------------------------------------
    userTask(element) {
      const forms = Object.keys(this.bundle()).filter((n) => n.endsWith('.json') && !n.endsWith('.uischema.json'));
      const uis = Object.keys(this.bundle()).filter((n) => n.endsWith('.uischema.json'));
      this.root.append(
        this.heading('Form'),
        this.choice('Form (JSON Schema)', this.prop(element, 'formJsonSchemaFilename'), ['', ...forms],
          (v) => this.setProp(element, 'formJsonSchemaFilename', v), 'formJsonSchemaFilename'),
        this.choice('UI schema (layout)', this.prop(element, 'formUiSchemaFilename'), ['', ...uis],
          (v) => this.setProp(element, 'formUiSchemaFilename', v), 'formUiSchemaFilename'),
        this.choice('Signature meaning', this.prop(element, 'signatureMeaning'), ['', ...this.meanings()],
          (v) => this.setProp(element, 'signatureMeaning', v), 'signatureMeaning',
          'Completing the task is an electronic signature with this meaning.'),
        this.heading('Who does it'),
        this.propText(element, 'assignee', 'Assignee (expression giving a username)'),
        this.propText(element, 'separateFrom', 'Separate from (task ids, comma-separated)'),
        this.propText(element, 'priority', 'Priority (integer, higher first)'),
        this.heading('What it shows'),
        this.propText(element, 'shareWith', 'Share with roles (comma-separated)',
          'Roles besides staff and this lane that may read the data submitted here.'),
        this.heading('Scripts'),
        this.script(element, 'spiffworkflow:PreScript', 'Pre-script (runs before the task)'),
        this.script(element, 'spiffworkflow:PostScript', 'Post-script (runs after it is submitted)'));
    }

    scriptTask(element) {
      const bo = element.businessObject;
      this.root.append(this.heading('Script'),
        this.area('Script (Python, sandboxed)', bo.script || '', (v) => this.modeling.updateProperties(element,
          {script: v, scriptFormat: bo.scriptFormat || 'python'}), 'script'),
        this.heading('What it shows'), ...this.shares(element));
    }

    ruleTask(element) {
      this.root.append(this.heading('Decision'),
        this.text('Decision table (DMN decision id)', this.ext(element, 'spiffworkflow:CalledDecisionId'),
          (v) => this.setExt(element, 'spiffworkflow:CalledDecisionId', v), {name: 'calledDecisionId'}),
        this.heading('What it shows'), ...this.shares(element));
    }

    timer(element, timer) {
      const kind = TIMER_KINDS.map(([k]) => k).find((k) => timer[k]) || 'timeDuration';
      const expression = timer[kind] ? timer[kind].body || '' : '';
      const apply = (k, body) => {
        const props = {timeDuration: undefined, timeDate: undefined, timeCycle: undefined};
        props[k] = this.moddle.create('bpmn:FormalExpression', {body});
        this.modeling.updateModdleProperties(element, timer, props);
      };
      const select = el('select', {id: 'prop-timer-kind'},
        TIMER_KINDS.map(([k, label]) => el('option', {value: k, selected: k === kind}, label)));
      select.addEventListener('change', () => apply(select.value, expression));
      this.root.append(this.heading('Timer'),
        el('div', {class: 'field'}, el('label', {for: 'prop-timer-kind'}, 'Kind'), select),
        this.text('Timer expression (Python: quote literal durations)', expression,
          (v) => apply(select.value, v), {name: 'timer'}),
        this.choice('Schedule kind', this.prop(element, 'scheduleKind'), ['', ...SCHEDULE_KINDS],
          (v) => this.setProp(element, 'scheduleKind', v), 'scheduleKind', 'How the schedule names this timer.', true));
    }

    message(element) {
      this.root.append(this.heading('Message'),
        this.text('Message variable (catch: where the payload lands)', this.ext(element, 'spiffworkflow:MessageVariable'),
          (v) => this.setExt(element, 'spiffworkflow:MessageVariable', v), {name: 'messageVariable'}));
    }

    condition(element) {
      const bo = element.businessObject;
      const current = bo.conditionExpression ? bo.conditionExpression.body || '' : '';
      this.root.append(this.heading('Condition'),
        this.area('Condition (Python expression; empty = no condition)', current, (v) => this.modeling.updateProperties(
          element, {conditionExpression: v.trim() ? this.moddle.create('bpmn:FormalExpression', {body: v}) : undefined}),
        'condition'));
    }

    shares(element) {
      return [this.propText(element, 'shareWith', 'Share with roles (comma-separated)'),
        this.propText(element, 'shareVariables', 'Shared variables (comma-separated)')];
    }

    // -- reading and writing extension elements -------------------------------------------------------------
    extValues(element) {
      const ext = element.businessObject.extensionElements;
      return ext ? ext.values || [] : [];
    }

    extensions(element) {
      const bo = element.businessObject;
      if (!bo.extensionElements) {
        this.modeling.updateModdleProperties(element, bo,
          {extensionElements: this.moddle.create('bpmn:ExtensionElements', {values: []})});
      }
      return bo.extensionElements;
    }

    prop(element, name) {
      const props = this.extValues(element).find((v) => is(v, 'spiffworkflow:Properties'));
      const p = props && (props.properties || []).find((x) => x.name === name);
      return p ? p.value || '' : '';
    }

    setProp(element, name, value) {
      value = (value || '').trim();
      const ext = this.extensions(element);
      let props = (ext.values || []).find((v) => is(v, 'spiffworkflow:Properties'));
      if (!props) {
        if (!value) return;
        props = this.moddle.create('spiffworkflow:Properties', {properties: []});
        this.modeling.updateModdleProperties(element, ext, {values: [...(ext.values || []), props]});
      }
      const list = props.properties || [];
      const existing = list.find((x) => x.name === name);
      if (existing && value) this.modeling.updateModdleProperties(element, existing, {value});
      else if (existing) this.modeling.updateModdleProperties(element, props, {properties: list.filter((x) => x !== existing)});
      else if (value) {
        this.modeling.updateModdleProperties(element, props,
          {properties: [...list, this.moddle.create('spiffworkflow:Property', {name, value})]});
      }
    }

    ext(element, type) {
      const node = this.extValues(element).find((v) => is(v, type));
      return node ? node.value || '' : '';
    }

    setExt(element, type, value) {
      const ext = this.extensions(element);
      const values = ext.values || [];
      const node = values.find((v) => is(v, type));
      if (node && value.trim()) this.modeling.updateModdleProperties(element, node, {value});
      else if (node) this.modeling.updateModdleProperties(element, ext, {values: values.filter((v) => v !== node)});
      else if (value.trim()) this.modeling.updateModdleProperties(element, ext, {values: [...values, this.moddle.create(type, {value})]});
    }

    // -- fields -------------------------------------------------------------------------------------------
    heading(text) { return el('h3', {}, text); }

    field(label, control, name, help) {
      const id = `prop-${name}`;
      control.id = id;
      control.dataset.prop = name;
      const hint = help ? el('p', {class: 'hint', id: `${id}-help`}, help) : null;
      if (hint) control.setAttribute('aria-describedby', hint.id);
      return el('div', {class: 'field'}, el('label', {for: id}, label), control, hint);
    }

    text(label, value, apply, {name, list, help} = {}) {
      const input = el('input', {type: 'text', value, list, autocomplete: 'off', spellcheck: 'false'});
      input.addEventListener('change', () => apply(input.value));
      return this.field(label, input, name || label.toLowerCase().replace(/\W+/g, '-'), help);
    }

    propText(element, name, label, help) {
      return this.text(label, this.prop(element, name), (v) => this.setProp(element, name, v), {name, help});
    }

    area(label, value, apply, name) {
      const area = el('textarea', {rows: 4, spellcheck: 'false', class: 'code'});
      area.value = value;
      area.addEventListener('change', () => apply(area.value));
      return this.field(label, area, name);
    }

    script(element, type, label) {
      return this.area(label, this.ext(element, type), (v) => this.setExt(element, type, v), type.split(':')[1]);
    }

    choice(label, value, options, apply, name, help, free = false) {
      if (free) {
        const input = this.text(label, value, apply, {name, help, list: 'studio-schedule-kinds'});
        return input;
      }
      if (value && !options.includes(value)) options = [...options, value];
      const select = el('select', {}, options.map((o) => el('option', {value: o, selected: o === value}, o || '(none)')));
      select.addEventListener('change', () => apply(select.value));
      return this.field(label, select, name, help);
    }
  }

  /** The <datalist>s the pickers suggest from (the lane roles of the vocabulary, schedule kinds). */
  function datalists(vocabulary) {
    return [el('datalist', {id: 'studio-roles'}, vocabulary.lane_roles.map((r) => el('option', {value: r}))),
      el('datalist', {id: 'studio-schedule-kinds'}, SCHEDULE_KINDS.map((r) => el('option', {value: r})))];
  }

  return {Panel, datalists};
})();
