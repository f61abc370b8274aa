/**
 * Issue 20 item 6: header values are bytes (a Headers value holds one character per byte), read as UTF-8.
 */
import { describe, expect, it } from 'vitest'
import { headerText } from '../../src/events/header-text.ts'

/** Headers as a server builds them from these bytes. */
const headersOf = (bytes: number[]) => new Headers({ 'x-millicast-stream-id': String.fromCharCode(...bytes) })
const utf8 = (text: string) => [...new TextEncoder().encode(text)]

describe('headerText', () => {
  it('reads UTF-8 bytes as their text, and ASCII as it is', () => {
    expect(headerText(headersOf(utf8('N/日本')), 'x-millicast-stream-id')).toBe('N/日本')
    expect(headerText(headersOf(utf8('ZG6NWV/é😀')), 'x-millicast-stream-id')).toBe('ZG6NWV/é😀')
    expect(headerText(headersOf(utf8('\uFEFFa/b')), 'x-millicast-stream-id')).toBe('\uFEFFa/b') // a BOM is kept
    expect(headerText(headersOf(utf8('ZG6NWV/sample')), 'x-millicast-stream-id')).toBe('ZG6NWV/sample')
    expect(headerText(new Headers(), 'x-millicast-stream-id')).toBeUndefined()
  })

  it.each([
    ['a byte that starts no character', [0x4e, 0x2f, 0x80]],
    ['a character cut short', [0x4e, 0x2f, 0xe6, 0x97]],
    ['an overlong slash', [0x4e, 0xc0, 0xaf, 0x78]],
    ['a surrogate', [0x4e, 0x2f, 0xed, 0xa0, 0x80]],
    ['0xFF', [0x4e, 0x2f, 0xff]],
    ['U+FFFD, what a front that decoded the bytes put for ones that were not UTF-8', [0x4e, 0x2f, 0xef, 0xbf, 0xbd]],
  ])('refuses %s (400 bad_header_encoding)', (_, bytes) => {
    expect(() => headerText(headersOf(bytes), 'x-millicast-stream-id')).toThrow(
      expect.objectContaining({ reason: 'bad_header_encoding' }),
    )
  })
})
