/* accredit web pages: shared helpers. Every page talks to the REST API under /api with the session cookie.
   Errors are never swallowed: anything unexpected is shown in the red banner at the top of the page. */
'use strict';

const Accredit = (() => {
  const errors = document.getElementById('errors');
  const noticeBox = document.getElementById('notice');

  /** Show a message in the page's error banner (role=alert, so screen readers announce it). */
  function showError(message) {
    errors.hidden = false;
    const line = document.createElement('p');
    line.textContent = message;
    errors.appendChild(line);
  }

  window.addEventListener('error', (e) => showError(`Unexpected error in the page: ${e.message}`));
  window.addEventListener('unhandledrejection', (e) => {
    const r = e.reason;
    showError(r instanceof ApiError ? r.message : `Unexpected error in the page: ${r && r.message ? r.message : r}`);
  });

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `the server answered ${status}`);
      this.status = status;
      this.problem = problem || {};
    }
  }

  function signInUrl() {
    const here = location.pathname + location.search;
    return here === '/' ? '/' : `/?next=${encodeURIComponent(here)}`;
  }

  /** Call the API. Resolves to the JSON body (or null); rejects with an ApiError carrying the problem
      document. A lost session (401 unauthenticated) goes to the sign-in page, then back here. */
  async function api(method, path, body) {
    const init = {method, credentials: 'same-origin', headers: {Accept: 'application/json'}};
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return handle(await fetch(path, init));
  }

  async function handle(response) {
    const type = response.headers.get('Content-Type') || '';
    const text = type.includes('json') ? await response.text() : '';
    const data = text ? JSON.parse(text) : null;  // 204 No Content (sign-out) carries a JSON type and no body
    if (response.ok) return data;
    const problem = data || {title: response.statusText};
    if (response.status === 401 && String(problem.type || '').endsWith('/unauthenticated')
        && location.pathname !== '/') {
      sessionStorage.setItem('accredit.notice', problem.detail || 'Please sign in.');
      location.assign(signInUrl());
      return new Promise(() => {});  // the page is going away
    }
    throw new ApiError(response.status, problem);
  }

  /** Upload one file to a case (multipart, field "file"). Resolves to the attachment record; rejects with an
      ApiError carrying the problem document (422 type or size refused, 413 far too large, 409 case ended). */
  async function upload(caseId, file) {
    const data = new FormData();
    data.append('file', file, file.name);
    let response;
    try {
      response = await fetch(`/api/cases/${encodeURIComponent(caseId)}/attachments`,
        {method: 'POST', credentials: 'same-origin', headers: {Accept: 'application/json'}, body: data});
    } catch (e) {  // the server may close the connection on a body far over its limit
      throw new ApiError(0, {detail: `the upload of ${file.name} failed (${e.message}); the file may be too large`});
    }
    return handle(response);
  }

  /** Size in bytes -> "12 KB". */
  function size(bytes) {
    if (bytes === undefined || bytes === null) return '';
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  }

  /** The signed-in user (GET /api/me), shown in the header; null if nobody is signed in. */
  async function me() {
    if (document.body.dataset.signedIn !== 'true') return null;  // no session cookie: no 401 in the console
    try {
      const user = await api('GET', '/api/me');
      document.getElementById('who-name').textContent =
        `${user.display_name || user.username} (${user.roles.map((r) => r.replace(/_/g, ' ')).join(', ')})`;  // words, not keys
      document.getElementById('who').hidden = false;
      document.getElementById('nav').hidden = false;
      // links for some roles only (data-roles="a b"): a convenience, the API still decides what each may read
      for (const link of document.querySelectorAll('#nav [data-roles]')) {
        link.hidden = !link.dataset.roles.split(' ').some((r) => user.roles.includes(r));
      }
      return user;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return null;
      throw e;
    }
  }

  document.getElementById('sign-out').addEventListener('click', async () => {
    await api('DELETE', '/api/session');
    if (location.pathname === '/' && !location.search) location.reload();  // assign('/') from '/' may not reload
    else location.assign('/');
  });

  /** A notice carried over from the previous page (e.g. "Task completed"). */
  function notice(message) {
    if (message === undefined) {
      message = sessionStorage.getItem('accredit.notice');
      sessionStorage.removeItem('accredit.notice');
    }
    if (!message) return;
    noticeBox.textContent = message;
    noticeBox.hidden = false;
  }

  function carryNotice(message) { sessionStorage.setItem('accredit.notice', message); }

  /** ISO 8601 -> "2026-11-25 00:36 UTC" (seconds with seconds=true). */
  function utc(iso, seconds = false) {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const s = d.toISOString();
    return `${s.slice(0, 10)} ${s.slice(11, seconds ? 19 : 16)} UTC`;
  }

  /** Build an element: el('a', {href: '/x', class: 'c'}, 'text', child). Text is always text (no HTML). */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  /** Fill a <dl> with [term, value] pairs (value: text or node). */
  function meta(dl, pairs) {
    dl.replaceChildren();
    for (const [term, value] of pairs) {
      if (value === undefined || value === null || value === '') continue;
      dl.append(el('div', {}, el('dt', {}, term), el('dd', {}, value)));
    }
  }

  return {api, upload, ApiError, me, showError, notice, carryNotice, utc, size, el, meta, signInUrl};
})();
