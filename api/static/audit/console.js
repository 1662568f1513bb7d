/* Audit console: the parts the case and system pages share. A filterable history timeline (each event opens
   to its values, data and hashes) and the verification verdict. Reads only; the filters live in the address
   so a filtered view can be bookmarked or handed to a colleague. */
'use strict';

const AuditConsole = (() => {
  const {api, el, utc} = Accredit;
  const PER_PAGE = 100;
  const FILTERS = ['actor', 'role', 'action', 'element_id', 'since', 'until'];

  function who(e) {
    return e.actor_name && e.actor_name !== e.actor ? `${e.actor_name} (${e.actor})` : e.actor;
  }

  function text(value) {
    if (value === undefined) return '';
    if (value === null) return '(empty)';
    return typeof value === 'string' ? value : JSON.stringify(value);
  }

  /** A table that may scroll sideways on a phone: a focusable, named region (keyboard users can scroll it). */
  function wrap(table, label) {
    return el('div', {class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': `${label} (scrolls sideways)`}, table);
  }

  function hashCode(value) {
    return value ? el('code', {class: 'hash'}, value) : el('span', {class: 'muted'}, '(none: first event)');
  }

  /** What one event holds: who/what/where, old → new values, signature, the raw data and the two hashes. */
  function details(e) {
    const data = e.data && typeof e.data === 'object' ? e.data : null;
    const facts = [
      ['Element', e.element_id ? `${e.element_name || e.element_id} (${e.element_id}${e.element_type ? `, ${e.element_type}` : ''})` : null],
      ['Task', e.task_id], ['Role', e.role], ['Reason', data && data.reason],
    ].filter(([, v]) => v);
    const parts = [];
    if (facts.length) {
      parts.push(el('dl', {class: 'event-facts'}, facts.map(([t, v]) => el('div', {}, el('dt', {}, t), el('dd', {}, v)))));
    }
    if (data && data.changes && typeof data.changes === 'object' && Object.keys(data.changes).length) {
      parts.push(wrap(el('table', {class: 'grid changes'},
        el('caption', {}, 'Old and new values'),
        el('thead', {}, el('tr', {}, el('th', {scope: 'col'}, 'Field'), el('th', {scope: 'col'}, 'Old value'),
          el('th', {scope: 'col'}, 'New value'))),
        el('tbody', {}, Object.entries(data.changes).map(([field, change]) => el('tr', {},
          el('th', {scope: 'row'}, field),
          el('td', {class: 'old'}, text(change && typeof change === 'object' ? change.old : undefined)),
          el('td', {class: 'new'}, text(change && typeof change === 'object' ? change.new : change)))))), 'Old and new values'));
    }
    if (data && data.signature) {
      const s = data.signature;
      parts.push(el('p', {class: 'signature-line'}, el('strong', {}, `Signed (${s.meaning})`),
        ` by ${s.printed_name} (${s.username}) at ${utc(s.signed_at, true)}; signed data SHA-256 `,
        el('code', {class: 'hash'}, s.data_sha256)));
    }
    if (data) {
      parts.push(el('details', {class: 'raw'}, el('summary', {}, 'Data as recorded'),
        el('pre', {}, JSON.stringify(data, null, 2))));
    }
    parts.push(el('dl', {class: 'hashes'},
      el('div', {}, el('dt', {}, 'Previous hash'), el('dd', {}, hashCode(e.prev_hash))),
      el('div', {}, el('dt', {}, 'Hash'), el('dd', {}, hashCode(e.hash)))));
    return parts;
  }

  function item(e) {
    return el('li', {dataset: {seq: e.seq, action: e.action}},
      el('details', {},
        el('summary', {},
          el('span', {class: 'seq'}, `#${e.seq}`),
          el('span', {class: 'when'}, utc(e.occurred_at, true)),
          el('code', {class: 'action'}, e.action),
          el('span', {class: 'by'}, who(e), e.role ? el('span', {class: 'role'}, ` as ${e.role}`) : null),
          e.element_id ? el('span', {class: 'element'}, e.element_name || e.element_id) : null),
        el('div', {class: 'event-body'}, details(e))));
  }

  function fill(select, values, current) {
    const first = select.options[0];
    const options = values.map(([value, label]) => el('option', {value}, label));
    if (current && !values.some(([v]) => v === current)) options.push(el('option', {value: current}, current));
    select.replaceChildren(first, ...options);
    select.value = current || '';
  }

  function nextDay(day) {
    const d = new Date(`${day}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }

  /** The timeline of `source` (an API path answering TimelineSchema); `onLoad(result)` after each load. */
  function timeline(source, onLoad) {
    const form = document.getElementById('timeline-filters');
    const field = (name) => form.elements[name];
    const params = new URLSearchParams(location.search);
    const state = {page: Math.max(1, parseInt(params.get('page'), 10) || 1), seq: 0, open: null};
    const initial = {};
    for (const name of FILTERS) initial[name] = params.get(name) || '';

    async function load() {
      const seq = ++state.seq;
      const chosen = {};
      for (const name of FILTERS) {
        const value = field(name).value.trim();
        if (value) chosen[name] = value;
      }
      const shown = new URLSearchParams({...chosen, ...(state.page > 1 ? {page: state.page} : {})}).toString();
      history.replaceState(null, '', shown ? `${location.pathname}?${shown}` : location.pathname);
      const query = {...chosen, page: state.page, per_page: PER_PAGE};
      if (query.since) query.since = `${query.since}T00:00:00Z`;
      if (query.until) query.until = `${nextDay(query.until)}T00:00:00Z`;
      const result = await api('GET', `${source}?${new URLSearchParams(query)}`);
      if (seq !== state.seq) return result;
      render(result, chosen);
      if (onLoad) onLoad(result);
      return result;
    }

    function render(result, chosen) {
      const f = result.facets;
      fill(field('actor'), f.actors.map((a) => [a.username, a.name && a.name !== a.username ? `${a.name} (${a.username})` : a.username]), chosen.actor);
      fill(field('role'), f.roles.map((r) => [r, r]), chosen.role);
      fill(field('action'), f.actions.map((a) => [a, a]), chosen.action);
      fill(field('element_id'), f.elements.map((e) => [e.element_id, e.name ? `${e.name} (${e.element_id})` : e.element_id]), chosen.element_id);
      document.getElementById('f-role-field').hidden = !f.roles.length && !chosen.role;
      document.getElementById('f-element-field').hidden = !f.elements.length && !chosen.element_id;
      const list = document.getElementById('timeline');
      list.replaceChildren(...result.events.map(item));
      document.getElementById('timeline-empty').hidden = result.events.length > 0;
      const filtered = Object.keys(chosen).length > 0;
      document.getElementById('timeline-count').textContent = filtered
        ? `${result.total} of ${result.chain_length} events match the filters, oldest first.`
        : `${result.total} event${result.total === 1 ? '' : 's'}, oldest first.`;
      document.getElementById('page-label').textContent = `Page ${result.page} of ${result.total_pages}`;
      document.getElementById('prev-page').disabled = result.page <= 1;
      document.getElementById('next-page').disabled = result.page >= result.total_pages;
      document.querySelector('.pager').hidden = result.total_pages <= 1;
      if (state.open !== null) {
        const target = list.querySelector(`li[data-seq="${state.open}"]`);
        state.open = null;
        if (target) {
          target.querySelector('details').open = true;
          target.scrollIntoView({block: 'center'});
          target.querySelector('summary').focus();
        }
      }
    }

    for (const name of FILTERS) field(name).value = initial[name];
    form.addEventListener('change', () => { state.page = 1; load(); });
    form.addEventListener('submit', (e) => { e.preventDefault(); state.page = 1; load(); });
    form.addEventListener('reset', () => setTimeout(() => { state.page = 1; load(); }, 0));
    document.getElementById('prev-page').addEventListener('click', () => { state.page -= 1; load(); });
    document.getElementById('next-page').addEventListener('click', () => { state.page += 1; load(); });

    /** Show event `seq` opened: filters cleared, on its page. */
    function reveal(seq) {
      for (const name of FILTERS) field(name).value = '';
      state.page = Math.max(1, Math.ceil(seq / PER_PAGE));
      state.open = seq;
      return load();
    }

    return {load, reveal, mark(seq) {
      for (const li of document.querySelectorAll('#timeline li.broken')) li.classList.remove('broken');
      const li = seq === null ? null : document.querySelector(`#timeline li[data-seq="${seq}"]`);
      if (li) li.classList.add('broken');
    }};
  }

  /** The verification card: verdict, the head to record, what differs at the first broken link. */
  function verification(source, onVerdict) {
    const box = document.getElementById('verdict');
    const form = document.getElementById('anchor-form');
    const anchor = document.getElementById('anchor');

    async function run() {
      const value = anchor.value.trim();
      anchor.removeAttribute('aria-invalid');
      box.replaceChildren(el('p', {class: 'muted'}, 'Verifying…'));
      let result;
      try {
        result = await api('GET', value ? `${source}?${new URLSearchParams({anchor: value})}` : source);
      } catch (e) {
        if (!(e instanceof Accredit.ApiError) || e.status !== 422) throw e;
        anchor.setAttribute('aria-invalid', 'true');
        box.replaceChildren(el('p', {class: 'error-text'}, e.message));
        return null;
      }
      render(result, value);
      if (onVerdict) onVerdict(result);
      return result;
    }

    function render(r, anchored) {
      const head = r.head ? el('p', {class: 'head'}, 'Head to record: ',
        el('code', {class: 'hash', id: 'chain-head'}, `${r.head.seq}:${r.head.hash}`)) : null;
      box.dataset.ok = r.ok ? 'true' : 'false';
      if (r.ok) {
        box.className = 'verdict ok';
        box.replaceChildren(
          el('p', {class: 'verdict-line'}, el('strong', {}, 'Intact.'),
            ` All ${r.checked} event${r.checked === 1 ? '' : 's'} check out: every hash matches its content and links to the one before${anchored ? ', and the recorded head is still in the chain' : ''}.`),
          head);
        return;
      }
      const b = r.first_broken;
      const differs = (b.differs || []).map((d) => el('tr', {},
        el('th', {scope: 'row'}, d.field), el('td', {}, d.expected === null ? '(none)' : el('code', {class: 'hash'}, String(d.expected))),
        el('td', {}, d.found === null ? '(none)' : el('code', {class: 'hash'}, String(d.found))), el('td', {}, d.note || '')));
      box.className = 'verdict broken';
      box.replaceChildren(
        el('p', {class: 'verdict-line'}, el('strong', {}, `Broken at event ${b.seq}.`), ` ${b.reason}.`),
        differs.length ? wrap(el('table', {class: 'grid differs'}, el('caption', {}, 'What differs'),
          el('thead', {}, el('tr', {}, el('th', {scope: 'col'}, 'What'), el('th', {scope: 'col'}, 'Expected'),
            el('th', {scope: 'col'}, 'Found'), el('th', {scope: 'col'}, 'Meaning'))),
          el('tbody', {}, differs)), 'What differs') : null,
        b.seq ? el('p', {}, el('button', {type: 'button', class: 'link-like', id: 'show-broken'}, `Show event ${b.seq} in the history`)) : null,
        el('p', {class: 'muted'}, `${r.checked} events checked.`), head);
    }

    form.addEventListener('submit', (e) => { e.preventDefault(); run(); });
    return {run};
  }

  return {timeline, verification};
})();
