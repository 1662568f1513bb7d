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
    document.getElementById('inbox-empty').hidden = result.items.length > 0;
    document.getElementById('tasks').hidden = result.items.length === 0;
    const pages = Math.max(1, Math.ceil(result.total / PER_PAGE));
    document.getElementById('inbox-count').textContent =
      `${result.total} task${result.total === 1 ? '' : 's'}`;
    document.getElementById('page-label').textContent = `Page ${state.page} of ${pages}`;
    document.getElementById('prev-page').disabled = state.page <= 1;
    document.getElementById('next-page').disabled = state.page >= pages;
    document.querySelector('.pager').hidden = pages <= 1;
  }

  function row(task) {
    const due = task.due_at
      ? el('span', {}, utc(task.due_at), task.overdue ? el('span', {class: 'badge overdue'}, 'overdue') : null)
      : el('span', {class: 'muted'}, '—');
    const mine = task.claimed_by && task.claimed_by === state.user.username;
    let action = null;
    if (!task.claimed_by && (!task.assignee || task.assignee === state.user.username)) {
      action = el('button', {type: 'button', class: 'small', 'aria-label': `Claim ${task.name || task.element_id}`,
        onclick: (e) => claim(task, e.currentTarget)}, 'Claim');
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
