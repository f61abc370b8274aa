/**
 * Slack messages carry values hookcast did not write (stream names, ids, media types from signed hooks): none of
 * them may turn into a mention, a channel ping, a link or formatting.
 */
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_TEMPLATES,
  endedMessage,
  healthMessage,
  liveMessage,
  mediaMessage,
} from '../../src/notifiers/slack-messages.ts'
import { makeEvent } from '../support/events.ts'

const HOSTILE = '<!channel> <@U0ADMIN> <https://evil.example|https://dolby.io> & co'
const FORMATTED = '*bold* _it_ ~gone~ `code`'
const T0 = 1_700_000_000_000

type Message = { text: string; blocks: Array<Record<string, any>> }

/** Every mrkdwn text object of a message, and its fallback text. */
function texts(message: Message): Array<{ type: string; text: string; verbatim?: boolean }> {
  const out: Array<{ type: string; text: string; verbatim?: boolean }> = []
  for (const block of message.blocks) {
    if (block.text) out.push(block.text)
    for (const field of block.fields ?? []) out.push(field)
    for (const element of block.elements ?? []) out.push(element)
  }
  return out
}

/** The message with hookcast's own date tokens taken out: what is left may hold no Slack control sequence. */
const withoutDates = (text: string) =>
  text.replace(/<!date\^\d+\^\{date_short_pretty\} \{time_secs\}\|[0-9TZ:.-]+>/g, '')

function expectNoInjection(message: Message): void {
  for (const text of [message.text, ...texts(message).map((t) => t.text)]) {
    expect(withoutDates(text)).not.toMatch(/[<>]/)
    expect(text).not.toContain('<!channel>')
    expect(text).not.toContain('<@U0ADMIN>')
    expect(text).not.toContain('<https://evil')
  }
}

const live = (streamName: string, streamId = `ZG6NWV/${streamName}`, template = DEFAULT_TEMPLATES.live) =>
  liveMessage(
    template,
    makeEvent({ type: 'stream', event: 'live', streamName, streamId }),
    { streamId, accountId: 'ZG6NWV', liveSince: T0, feeds: 1 },
    undefined,
    false,
  ) as Message

describe('Slack messages', () => {
  it('escape &, < and > in every value, so a signed name makes no mention, ping or link', () => {
    const messages = [
      live(HOSTILE),
      endedMessage(
        DEFAULT_TEMPLATES.ended,
        makeEvent({ type: 'stream', event: 'ended', streamName: HOSTILE, streamId: `ZG6NWV/${HOSTILE}` }),
        T0,
        T0 + 65_000,
        undefined,
      ) as Message,
      mediaMessage(
        DEFAULT_TEMPLATES.media,
        makeEvent({
          type: 'recordings',
          event: 'completed',
          streamName: HOSTILE,
          streamId: undefined,
          data: { recordFileId: HOSTILE, mediaAssetId: '<!here>', type: '<@U0OTHER>' },
        }),
      ) as Message,
    ]
    for (const message of messages) expectNoInjection(message)
    expect(messages[0]!.blocks[0]!.text.text).toBe(
      ':red_circle: *&lt;!channel&gt; &lt;@U0ADMIN&gt; &lt;https://evil.example|https://dolby.io&gt; &amp; co* is live',
    )
    const media = JSON.stringify(messages[2])
    expect(media).not.toContain('<!here>')
    expect(media).not.toContain('<@U0OTHER>')
  })

  it("neutralise formatting characters in values, and keep the operator template's own formatting", () => {
    const message = live(FORMATTED, 'ZG6NWV/x')
    expect(message.blocks[0]!.text.text).toBe(
      ':red_circle: *\u2217bold\u2217 \u02CDit\u02CD \u223Cgone\u223C \u02CBcode\u02CB* is live',
    )
    // An underscore between letters or digits cannot start or end italics: names like sample_stream stay as typed.
    expect(live('sample_stream').blocks[0]!.text.text).toBe(':red_circle: *sample_stream* is live')
    const custom = live('_x_', 'ZG6NWV/_x_', '_{streamName}_ went *live* on `{accountId}`')
    expect(custom.blocks[0]!.text.text).toBe('_\u02CDx\u02CD_ went *live* on `ZG6NWV`')
  })

  it('quote no line with a value, and keep values on their line', () => {
    const message = live('> quoted\nsecond line', '> quoted\nid')
    const stream = message.blocks[1]!.fields[0]!.text as string
    expect(stream.split('\n')).toHaveLength(2)
    expect(stream.split('\n')[1]!.startsWith('&gt;')).toBe(false)
    expect(message.blocks[0]!.text.text).not.toContain('\n')
  })

  it('mark every mrkdwn text verbatim, so Slack links no bare URL, channel or mention in it', () => {
    const all = [
      live('x'),
      mediaMessage(DEFAULT_TEMPLATES.media, makeEvent({ type: 'media', event: 'completed' })) as Message,
    ]
    for (const message of all) {
      for (const text of texts(message)) if (text.type === 'mrkdwn') expect(text.verbatim).toBe(true)
    }
  })

  it('give a fallback text without formatting marks that keeps emoji names and values whole', () => {
    expect(live('sample_stream').text).toBe(':red_circle: sample_stream is live')
    expect(live(HOSTILE).text).toBe(
      ':red_circle: &lt;!channel&gt; &lt;@U0ADMIN&gt; &lt;https://evil.example|https://dolby.io&gt; &amp; co is live',
    )
    const ended = endedMessage(
      DEFAULT_TEMPLATES.ended,
      makeEvent({ type: 'stream', event: 'ended', streamName: 'my_show' }),
      T0,
      T0 + 65_000,
      undefined,
    )
    expect(ended.text).toBe(':black_circle: my_show ended after 1m 5s')
  })

  it('cut a huge value short, so Slack does not refuse the message', () => {
    const message = live('a'.repeat(10_000), 'ZG6NWV/b')
    expect(message.blocks[0]!.text.text.length).toBeLessThan(400)
    for (const text of texts(message)) expect(text.text.length).toBeLessThan(2000)
  })

  it('a health reply names the problem in words, escapes the stream name, and shows its picture', () => {
    const event = makeEvent({ type: 'stream', event: 'black', streamId: `ZG6NWV/${HOSTILE}`, streamName: HOSTILE })
    const words = { headline: 'black picture', since: T0, detail: 'Mean brightness 8 of 255.', recovered: false }
    const message = healthMessage(event, words, { url: 'https://img.example/b.jpg' }) as Message
    expectNoInjection(message)
    expect(message.text).toBe(
      `:warning: &lt;!channel&gt; &lt;@U0ADMIN&gt; &lt;https://evil.example|https://dolby.io&gt; &amp; co: black picture`,
    )
    expect(message.blocks.find((b) => b.type === 'image')?.image_url).toBe('https://img.example/b.jpg')
    expect(JSON.stringify(message.blocks)).toContain('Mean brightness 8 of 255.')
    const recovered = healthMessage(
      event,
      { ...words, headline: 'picture recovered after 2 min', recovered: true },
      undefined,
    )
    expect(recovered.text).toContain(':white_check_mark:')
    expect(recovered.blocks.some((b) => b.type === 'image')).toBe(false)
  })

  it('an end by silence says so, with the problems still open', () => {
    const event = makeEvent({ type: 'stream', event: 'ended', streamId: 'ZG6NWV/s', streamName: 's' })
    const notes = { endedBy: 'no hooks for 10 min', openAtEnd: 'frozen picture' }
    const text = JSON.stringify(endedMessage(DEFAULT_TEMPLATES.ended, event, T0, T0 + 60_000, undefined, notes).blocks)
    expect(text).toContain('*Ended by*\\nno hooks for 10 min')
    expect(text).toContain('*Picture at the end*\\nfrozen picture')
  })
})
