/**
 * The operator pages (being built; see issue 7): the live streams grid and the login form.
 * @module
 */

export function loginPage(error?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>hookcast</title></head><body><form method="post" action="/login"><label>Admin token <input name="token" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>${error ? `<p role="alert">${error}</p>` : ''}</form></body></html>`
}

export function streamsPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>hookcast</title></head><body><h1>hookcast</h1></body></html>`
}
