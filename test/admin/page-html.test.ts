/**
 * The operator pages' HTML and Content-Security-Policy: the style and script read from page.css, page.js and
 * login.css are the only inline ones, and each is allowed by its exact hash.
 */
import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { loginPage, PAGE_CSP, streamsPage } from '../../src/admin/page-html.ts'

const file = (name: string) => readFileSync(new URL(`../../src/admin/${name}`, import.meta.url), 'utf8')
const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`
const inline = (html: string, tag: 'style' | 'script') =>
  [...html.matchAll(new RegExp(`<${tag}[^>]*>([\\s\\S]*?)</${tag}>`, 'g'))].map((match) => match[1]!)
const metaPolicy = (html: string) => /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1]

describe('operator pages', () => {
  it('inline the files as they are, and allow exactly them by hash', () => {
    const page = streamsPage()
    expect(inline(page, 'style')).toEqual([file('page.css')])
    expect(inline(page, 'script')).toEqual([file('page.js')])
    expect(PAGE_CSP.streams).toContain(`style-src ${hash(file('page.css'))}`)
    expect(PAGE_CSP.streams).toContain(`script-src ${hash(file('page.js'))}`)

    // The login page's one script (sign-in links' fragment, page-html.ts) is allowed by its hash, and only it.
    for (const login of [loginPage('wrong'), loginPage(undefined, 'link')]) {
      expect(inline(login, 'style')).toEqual([file('login.css')])
      const scripts = inline(login, 'script')
      expect(scripts).toHaveLength(1)
      expect(scripts[0]).toContain('history.replaceState')
      expect(PAGE_CSP.login).toContain(`style-src ${hash(file('login.css'))}`)
      expect(PAGE_CSP.login).toContain(`script-src ${hash(scripts[0]!)};`)
    }
  })

  it('send the same policy in the meta tag, and forbid framing in the header', () => {
    for (const [html, header] of [
      [streamsPage(), PAGE_CSP.streams],
      [loginPage(), PAGE_CSP.login],
    ] as const) {
      expect(header).toMatch(/^default-src 'none'; /)
      expect(header.endsWith("; frame-ancestors 'none'")).toBe(true)
      expect(metaPolicy(html)).toBe(header.replace("; frame-ancestors 'none'", ''))
    }
  })

  it('keep the browser script checked by tsc', () => {
    expect(file('page.js').startsWith('// @ts-check\n')).toBe(true)
  })
})
