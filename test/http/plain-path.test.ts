/**
 * Issue 20 item 5's rule on the path as sent: `%2e`, `%2f` and `%5c` decoded, a backslash or a part between
 * slashes that is `.` or `..` is refused (400 bad_path). The runtimes' and the Lambda front's own tests send these.
 */
import { describe, expect, it } from 'vitest'
import { assertPlainPath } from '../../src/http/plain-path.ts'

describe('assertPlainPath', () => {
  it.each([
    '/hooks/millicast/../../metrics',
    '/hooks/millicast/%2e%2e/%2e%2e/metrics',
    '/a/%2E%2e/b',
    '/a/.%2E/b',
    '/a/%2e./b',
    '/a/./b',
    '/a/%2e/b',
    '/a/..',
    '/a/.',
    '/..',
    '/a/..%2fb',
    '/a/%2e%2e%2Fb',
    '/a/x%2f..%2fb',
    '/a\\b',
    '/a%5cb',
    '/a/%5C..%5Cb',
    'http://host:8080/a/../b?x=1',
    'https://host/a/%2e%2e',
    '/a/..?x=1',
    '/a/..#f',
  ])('refuses %s', (target) => {
    expect(() => assertPlainPath(target)).toThrow(expect.objectContaining({ status: 400, reason: 'bad_path' }))
  })

  it.each([
    '/hooks/millicast',
    '/',
    '/a/.../b',
    '/a/.b/c',
    '/a/b./c',
    '/a/%2e%2e%2e',
    '/a/%252e%252e/b',
    '/a/b%2Fc',
    '/thumbnails/ZG6NWV%2Fsample_stream/0123.jpg',
    '/healthz?x=/../..',
    'http://host/a/b',
    '/a/%25',
    '/a/%zz',
  ])('takes %s', (target) => {
    expect(() => assertPlainPath(target)).not.toThrow()
  })
})
