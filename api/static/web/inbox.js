/* "/": sign in, then the inbox (GET /api/tasks) with filters, due dates and Claim. */
'use strict';

(() => {
  const {api, ApiError, me, notice, utc, el} = Accredit;
  const PER_PAGE = 50;
  const state = {page: 1, total: 0, user: null};
  const caseKeys = new Map();  // case id -> business key (the task list carries only the case id)

  /** Where to go after signing in: only ever a path of this site. Resolved the way the browser will resolve
      it, so tricks such as "/\\evil.example", "/\t/evil.example" or "https:evil" cannot leave the site. */
  function nextPath() {
    const next = new URLSearchParams(location.search).get('next') || '';
    if (!next.startsWith('/')) return null;
    let url;
    try { url = new URL(next, location.origin); } catch (e) { return null; }
    return url.origin === location.origin ? url.pathname + url.search + url.hash : null;
  }

  async function start() {
    notice();
    state.user = await me();
    if (!state.user) return showSignIn();
    const next = nextPath();
    if (next) return location.replace(next);
    showInbox();
  }

  function showSignIn() {
    document.getElementById('sign-in').hidden = false;
    document.getElementById('username').focus();
  }

  document.getElementById('sign-in-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const box = document.getElementById('sign-in-error');
    box.hidden = true;
    const username = document.getElementById('username').value.trim();
    const password = document.getElementById('password').value;
    if (!username || !password) {
      box.textContent = 'Enter your username and password.';
      box.hidden = false;
      return;
    }
    try {
      await api('POST', '/api/session', {username, password});
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      box.textContent = e.message;  // the problem's detail, e.g. "wrong username or password"
      box.hidden = false;
      document.getElementById('password').select();
      return;
    }
    const next = nextPath();
    location.assign(next || '/');
  });

  function showInbox() {
    const section = document.getElementById('inbox');
    section.hidden = false;
    for (const id of ['f-scope', 'f-overdue', 'f-sort']) {
      document.getElementById(id).addEventListener('change', () => { state.page = 1; load(); });
    }
    document.getElementById('prev-page').addEventListener('click', () => { state.page -= 1; load(); });
    document.getElementById('next-page').addEventListener('click', () => { state.page += 1; load(); });
    load();
  }

  function query() {
    const q = new URLSearchParams({page: state.page, per_page: PER_PAGE,
      scope: document.getElementById('f-scope').value, sort: document.getElementById('f-sort').value});
    if (document.getElementById('f-overdue').checked) q.set('overdue', 'true');
    return q;
  }

  async function businessKeys(tasks) {
    tasks.forEach((t) => { if (t.business_key) caseKeys.set(t.case_id, t.business_key); });
    const missing = [...new Set(tasks.map((t) => t.case_id))].filter((id) => !caseKeys.has(id));
    await Promise.all(missing.map(async (id) => {
      const c = await api('GET', `/api/cases/${encodeURIComponent(id)}`);
      caseKeys.set(id, c.business_key);
    }));
  }

  async function load() {
    const body = document.querySelector('#tasks tbody');
    const result = await api('GET', `/api/tasks?${query()}`);
    await businessKeys(result.items);
    state.total = result.total;
    body.replaceChildren(...result.items.map(row));
    const unfiltered = state.page === 1 && query().get('scope') === 'all' && !query().has('overdue');
    const started = await gettingStarted(result.total === 0 && unfiltered);
    const empty = document.getElementById('inbox-empty');
    // an empty inbox says what to do: what this role may start (the card), or where work shows up
    empty.textContent = unfiltered
      ? 'Nothing is waiting for you now. A task appears here when a case reaches a step for your role; '
        + 'Cases lists the cases you may see and Schedule shows what is coming.'
      : 'No tasks match these filters. Choose "All my tasks" and clear "Overdue only" to see every task.';
    empty.hidden = result.items.length > 0 || started;
    document.getElementById('tasks').hidden = result.items.length === 0;
    const pages = Math.max(1, Math.ceil(result.total / PER_PAGE));
    document.getElementById('inbox-count').textContent =
      `${result.total} task${result.total === 1 ? '' : 's'}`;
    document.getElementById('page-label').textContent = `Page ${state.page} of ${pages}`;
    document.getElementById('prev-page').disabled = state.page <= 1;
    document.getElementById('next-page').disabled = state.page >= pages;
    document.querySelector('.pager').hidden = pages <= 1;
  }

  /** An empty inbox tells a new user what they can start (from the diagrams, GET /api/catalogue). */
  async function gettingStarted(empty) {
    const box = document.getElementById('getting-started');
    if (!empty) { box.hidden = true; return false; }
    const catalogue = await api('GET', '/api/catalogue');
    if (!catalogue.processes.length) { box.hidden = true; return false; }
    document.getElementById('getting-started-list').replaceChildren(...catalogue.processes.map((p) => el('li', {},
      el('a', {href: `/start#process-${encodeURIComponent(p.key)}`}, p.name),
      p.description ? el('span', {class: 'muted'}, ` — ${p.description}`) : null)));
    box.hidden = false;
    return true;
  }

  function row(task) {
    const due = task.due_at
      ? el('span', {}, utc(task.due_at), task.overdue ? el('span', {class: 'badge overdue'}, 'overdue') : null)
      : el('span', {class: 'muted'}, '—');
    const mine = task.claimed_by && task.claimed_by === state.user.username;
    let action = null;
    const label = task.name || task.element_id;
    if (!task.claimed_by && !task.assignee) {  // a task the diagram gives to one person is not claimed
      action = el('button', {type: 'button', class: 'small', 'aria-label': `Claim ${label}`,
        onclick: (e) => claim(task, e.currentTarget)}, 'Claim');
    } else if (task.claimed_by && (mine || state.user.roles.includes('coordinator'))) {
      action = el('button', {type: 'button', class: 'small', 'aria-label': `Release ${label}`,
        onclick: (e) => release(task, e.currentTarget)}, 'Release');
    }
    return el('tr', {class: task.overdue ? 'overdue' : null, dataset: {taskId: task.id}},
      el('td', {}, el('a', {href: `/tasks/${encodeURIComponent(task.id)}`}, task.name || task.element_id),
        task.signature_meaning ? el('span', {class: 'badge', title: 'completing it is an electronic signature'},
          `signature: ${task.signature_meaning}`) : null),
      el('td', {}, el('a', {href: `/cases/${encodeURIComponent(task.case_id)}`}, caseKeys.get(task.case_id) || task.case_id)),
      el('td', {}, task.role || ''),
      el('td', {}, due),
      el('td', {}, task.claimed_by ? (mine ? `${task.claimed_by} (you)` : task.claimed_by)
        : task.assignee ? el('span', {class: 'muted'}, `assigned to ${task.assignee}`) : el('span', {class: 'muted'}, '—')),
      el('td', {}, action));
  }

  async function release(task, button) {
    button.disabled = true;
    try {
      await api('POST', `/api/tasks/${encodeURIComponent(task.id)}/unclaim`);
      notice(`"${task.name || task.element_id}" is released.`);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      Accredit.showError(`Could not release "${task.name || task.element_id}": ${e.message}`);
    }
    await load();
  }

  async function claim(task, button) {
    button.disabled = true;
    try {
      await api('POST', `/api/tasks/${encodeURIComponent(task.id)}/claim`);
      notice(`You claimed "${task.name || task.element_id}".`);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      Accredit.showError(`Could not claim "${task.name || task.element_id}": ${e.message}`);
    }
    await load();
  }

  start();
})();
