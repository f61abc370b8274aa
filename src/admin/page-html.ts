/**
 * The operator pages' HTML: the login form and the live streams page, which only reads the admin API (polling it
 * every 2 s). Self-contained: the style and script beside this file are read once at start and put inline; no
 * build step, nothing from a CDN. What the page shows comes from the platform or from destinations, so its script
 * builds the DOM with textContent, never parsing data as HTML; a Content-Security-Policy allows only this exact
 * script and style (by hash) and same-origin requests, as a second line of defence.
 * @module
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'

/**
 * A file next to this one, as text. `node:fs/promises` with a file URL reads it the same way on Node, Deno and
 * Bun. Text that could close its own `<style>` or `<script>` element early is refused, so the page stays whole.
 */
async function asset(name: string, element: 'style' | 'script'): Promise<string> {
  const text = await readFile(new URL(`./${name}`, import.meta.url), 'utf8')
  if (text.toLowerCase().includes(`</${element}`)) throw new Error(`src/admin/${name}: must not contain </${element}`)
  return text
}

const [STYLE, SCRIPT, LOGIN_STYLE] = await Promise.all([
  asset('page.css', 'style'),
  asset('page.js', 'script'),
  asset('login.css', 'style'),
])

/**
 * The login page's one script: a sign-in link (sign-in-link.ts) carries its token after `#`, which browsers never
 * send to a server nor put in a Referer. Take it out of the address bar at once, then sign in with it through the
 * form, a same-origin POST as if typed, marked `via=link`; also when a link is opened over this very page (the
 * address differs only after `#`, so the browser does not load the page again). Browsers keep the whole address in
 * their history whatever the script does, so only one-time tokens may come this way: the server refuses a link
 * sign-in when the gateway has `admin.token` (routes.ts). Kept here rather than in a file of its own so that the
 * builds (Lambda, dist) need no other asset; it is a few lines, run as written.
 */
const LOGIN_SCRIPT = `(() => {
  'use strict'
  const signIn = () => {
    if (!location.hash) return
    const token = new URLSearchParams(location.hash.slice(1)).get('token')
    history.replaceState(null, '', location.pathname + location.search)
    const form = document.querySelector('form[action="/login"]')
    if (!token || !form) return
    form.elements.namedItem('token').value = token
    form.elements.namedItem('via').value = 'link'
    form.submit()
  }
  addEventListener('hashchange', signIn) // a link opened while this page shows: only the fragment changes
  signIn()
})()`

// A red "live" dot, inline so the browser does not ask for /favicon.ico.
const ICON = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6" fill="#d92d20"/></svg>',
)}`

/** The value of a CSP source allowing exactly this inline script or style. */
const hashOf = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

function policy(style: string, script?: string): string {
  return [
    "default-src 'none'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    `style-src ${hashOf(style)}`,
    ...(script ? [`script-src ${hashOf(script)}`] : []),
  ].join('; ')
}

/**
 * The policies again, as the header the routes send: there it can also forbid framing (`frame-ancestors` is
 * ignored in a meta tag). The meta tag stays for a page saved to disk.
 */
export const PAGE_CSP = {
  login: `${policy(LOGIN_STYLE, LOGIN_SCRIPT)}; frame-ancestors 'none'`,
  streams: `${policy(STYLE, SCRIPT)}; frame-ancestors 'none'`,
}

function head(title: string, style: string, script?: string): string {
  const csp = policy(style, script)
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="${ICON}">
<title>${title}</title><style>${style}</style></head>`
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const LOGIN_HEAD = head('hookcast: sign in', LOGIN_STYLE, LOGIN_SCRIPT)

/** How the gateway lets operators in: a configured `admin.token`, or one-time sign-in links printed at start. */
export type SignInMode = 'token' | 'link'

const HINT: Record<SignInMode, string> = {
  token: 'Type the admin token (<code>admin.token</code> in the config) here; it is never taken from a link.',
  link:
    'Open the sign-in link hookcast printed when it started: each link signs in once, and a new one is printed ' +
    'after each use. Or paste the token from it here.',
}

export function loginPage(error?: string, mode: SignInMode = 'token'): string {
  const label = mode === 'token' ? 'Admin token' : 'Sign-in token'
  const autocomplete = mode === 'token' ? 'current-password' : 'off'
  return `${LOGIN_HEAD}<body>
<form method="post" action="/login">
<h1>hookcast</h1>
<p>Live streams and deliveries. ${HINT[mode]}</p>
<label>${label} <input name="token" type="password" autocomplete="${autocomplete}" required autofocus></label>
<input name="via" type="hidden" value="form">
<button type="submit">Sign in</button>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
</form>
<script>${LOGIN_SCRIPT}</script>
</body></html>`
}

// The same for every request (all data comes from the API), so built once.
const STREAMS_PAGE = `${head('hookcast: live streams', STYLE, SCRIPT)}<body>
<header class="top">
<h1 class="brand">hookcast <span>live streams</span></h1>
<ul class="status" id="status" aria-live="polite"><li>Loading...</li></ul>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
</header>
<main>
<p class="empty" id="offline" role="alert" hidden></p>
<noscript><p class="empty">This page needs JavaScript to load the streams.</p></noscript>
<section id="live" aria-labelledby="live-title">
<h2 id="live-title">Live now <span class="count" id="live-count">0</span></h2>
<div class="grid" id="live-grid"></div>
<p class="empty" id="live-empty">No stream is live right now.</p>
</section>
<section id="ended" aria-labelledby="ended-title">
<h2 id="ended-title">Recently ended</h2>
<ul class="ended" id="ended-list"></ul>
<p class="empty" id="ended-empty">No stream has ended yet.</p>
</section>
<section id="events" aria-labelledby="events-title">
<div class="events-head"><h2 id="events-title">Recent events</h2>
<div class="tools"><label><input type="checkbox" id="only-problems"> Only problems</label>
<button type="button" class="primary" id="replay-all" disabled>Replay all dead letters</button></div></div>
<div class="table" id="events-table" hidden><table>
<thead><tr><th>Received</th><th>Event</th><th>Stream</th><th>Destinations</th></tr></thead>
<tbody id="events-body"></tbody></table></div>
<p class="empty" id="events-empty">No event since the gateway started.</p>
</section>
</main>
<p id="flash" role="status" hidden></p>
<script>${SCRIPT}</script>
</body></html>`

export function streamsPage(): string {
  return STREAMS_PAGE
}
