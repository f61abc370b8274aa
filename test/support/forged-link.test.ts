import { describe, expect, it } from 'vitest'
import { forgedLink } from './forged-link.ts'

describe('forgedLink', () => {
  it('changes the signature whatever digit it starts with, and nothing else', () => {
    for (const digit of '0123456789abcdef') {
      const link = `/thumbnails/s/1.jpg?exp=9&sig=${digit}abc`
      const forged = forgedLink(link)
      expect(forged).not.toBe(link)
      expect(forged.replace(/sig=./, '')).toBe(link.replace(/sig=./, ''))
    }
    expect(() => forgedLink('/thumbnails/s/1.jpg')).toThrow()
  })
})
