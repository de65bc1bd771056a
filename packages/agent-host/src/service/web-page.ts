/**
 * The web chat's page, sign-in form and script. Plain HTML and one script served from the same
 * origin (the Content-Security-Policy allows nothing else); everything dynamic is inserted as
 * text, never as HTML, so no message, event or tool result can inject markup.
 */

const style = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1rem;background:#1d2330;color:#fff}
header h1{font-size:1rem;margin:0;flex:1}
main{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,1fr);gap:1rem;padding:1rem}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:.75rem}
h2{font-size:.95rem;margin:.1rem 0 .5rem}
#transcript{height:50vh;overflow:auto;white-space:pre-wrap}
.msg{margin:.3rem 0;padding:.35rem .5rem;border-radius:4px}
.msg.me{background:#e8f0fe}.msg.agent{background:#f1f3f4}.msg.notice{background:#fff7e0}
form.send{display:flex;gap:.5rem;margin-top:.5rem}form.send input{flex:1;padding:.4rem}
.proposal{border:1px solid #f0b429;border-radius:4px;padding:.4rem;margin:.3rem 0}
.proposal code{display:block;white-space:pre-wrap;font-size:.85em}
ol,ul{padding-left:1.2rem;margin:0}li{margin:.2rem 0;font-size:.9em}
.banner{background:#fff3cd;border:1px solid #f0b429;padding:.6rem 1rem;margin:1rem;border-radius:6px;white-space:pre-wrap}
.login{max-width:22rem;margin:4rem auto}.login label{display:block;margin:.5rem 0}.login input{width:100%;padding:.4rem}
.error{color:#b00020}
`;

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** The sign-in form; `csrf` is the pre-session token also set as a cookie. */
export function loginPage(csrf: string, error?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Nightshift — sign in</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${style}</style></head>
<body><form class="login" method="post" action="/login"><h1>Nightshift</h1>
${error ? `<p class="error" id="login-error">${escapeHtml(error)}</p>` : ''}
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<label>Login <input id="login" name="login" autocomplete="username" required></label>
<label>Password or token <input id="secret" name="secret" type="password" autocomplete="current-password" required></label>
<button id="sign-in" type="submit">Sign in</button></form></body></html>`;
}

/** The chat page; data for the script travels in meta tags (no inline script under the CSP). */
export function appPage(options: { name: string; role: string; csrf: string; setupHelp?: string }): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Nightshift</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="csrf-token" content="${escapeHtml(options.csrf)}"><style>${style}</style>
<script src="/app.js" defer></script></head>
<body><header><h1>Nightshift</h1><span id="me">${escapeHtml(options.name)} (${escapeHtml(options.role)})</span>
<form method="post" action="/logout" id="logout-form"><input type="hidden" name="csrf" value="${escapeHtml(options.csrf)}"><button>Sign out</button></form></header>
${options.setupHelp ? `<div class="banner" id="setup-help">${escapeHtml(options.setupHelp)}</div>` : ''}
<main><div><section><h2>Chat</h2><div id="transcript" aria-live="polite"></div>
<form class="send" id="send-form"><input id="message" autocomplete="off" placeholder="Ask about a run, or confirm a proposal"><button id="send">Send</button></form></section></div>
<div><section><h2>Waiting for a decision</h2><div id="proposals"><p>None.</p></div></section>
<section><h2>Events</h2><ol id="timeline" reversed></ol></section>
<section><h2>Audit log</h2><ol id="audit"></ol></section></div></main></body></html>`;
}

/** The page script: chat with streamed replies, proposals with buttons, timeline, audit, feed. */
export const appScript = `'use strict';
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
function say(cls, text) { const m = el('div', 'msg ' + cls, text); $('transcript').append(m); $('transcript').scrollTop = 1e9; return m; }
async function api(path, body) {
  const init = body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body) };
  const res = await fetch(path, { credentials: 'same-origin', ...init });
  if (res.status === 401) { location.href = '/login'; throw new Error('signed out'); }
  return res;
}
function renderProposals(list) {
  const box = $('proposals'); box.replaceChildren();
  if (!list.length) { box.append(el('p', '', 'None.')); return; }
  for (const p of list) {
    const card = el('div', 'proposal'); card.dataset.proposal = p.id;
    card.append(el('strong', '', p.id + ' ' + p.server + '/' + p.tool), el('code', '', JSON.stringify(p.arguments, null, 2)), el('small', '', 'expires ' + p.expiresAt));
    for (const decision of ['confirm', 'reject']) {
      const b = el('button', '', decision === 'confirm' ? 'Confirm' : 'Reject');
      b.dataset.decision = decision; b.dataset.proposal = p.id;
      b.addEventListener('click', () => decide(p.id, decision));
      card.append(' ', b);
    }
    box.append(card);
  }
}
async function decide(id, decision) {
  say('me', decision + ' ' + id);
  const res = await api('/api/proposals/' + encodeURIComponent(id) + '/decision', { decision });
  const data = await res.json();
  say('agent', data.reply || data.error || '');
  await refresh();
}
async function send(text) {
  say('me', text);
  const out = say('agent', '');
  const res = await api('/api/messages', { text });
  if (!res.ok || !res.body) { out.textContent = (await res.json()).error || 'failed'; return; }
  const reader = res.body.getReader(); const decoder = new TextDecoder(); let buffer = '';
  for (;;) {
    const { value, done } = await reader.read(); if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\\n\\n')) >= 0) {
      const frame = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      const type = (frame.match(/^event: (.*)$/m) || [])[1]; const data = JSON.parse((frame.match(/^data: (.*)$/m) || [])[1] || '{}');
      if (type === 'delta') out.textContent += data.text;
      if (type === 'done') { out.textContent = data.reply; out.dataset.done = '1'; renderProposals(data.proposals || []); }
      if (type === 'error') { out.textContent = data.error; out.dataset.done = '1'; }
    }
  }
  await refresh();
}
let feedAfter = 0;
async function refresh() {
  const [state, events, audit, feed] = await Promise.all([api('/api/state'), api('/api/events?limit=30'), api('/api/audit?limit=30'), api('/api/feed?after=' + feedAfter)].map((p) => p.then((r) => r.json())));
  renderProposals(state.proposals);
  $('timeline').replaceChildren(...events.events.map((e) => { const li = el('li', e.failure ? 'failure' : '', e.receivedAt.slice(11, 19) + ' ' + e.runKey + ' ' + e.type + ' — ' + (e.status === 'handled' ? (e.outcome || 'handled') : 'pending')); li.dataset.event = e.id; return li; }));
  $('audit').replaceChildren(...audit.rows.map((r) => el('li', '', '#' + r.seq + ' ' + r.at.slice(11, 19) + ' ' + r.kind + (r.actor ? ' by ' + r.actor : '') + (r.data && r.data.proposal ? ' ' + r.data.proposal : ''))));
  for (const n of feed.notifications) { feedAfter = Math.max(feedAfter, n.id); const m = say('notice', n.text); m.dataset.notification = String(n.id); }
}
$('send-form').addEventListener('submit', (e) => { e.preventDefault(); const text = $('message').value.trim(); if (!text) return; $('message').value = ''; send(text).catch((err) => say('notice', String(err))); });
refresh(); setInterval(() => refresh().catch(() => {}), 3000);
`;
