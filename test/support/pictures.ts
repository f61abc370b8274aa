/**
 * JPEG sequences for the picture-health tests and benchmark, made the same way from the same seed every time:
 * pixels drawn with a seeded PRNG, encoded by sharp (libvips, mozjpeg's libjpeg). Each sequence stands for
 * thumbnails of one stream, 30 s apart: new scenes, a black picture with noise, one scene re-encoded, a still scene
 * whose clock, ticker or presenter moves, a still scene with sensor noise, a dim scene, and input sharp must refuse.
 */
import sharp from 'sharp'
import { createPrng, deriveSeed, type Prng } from './prng.ts'

type Rgb = readonly [number, number, number]

/** An RGB picture being drawn, 3 bytes a pixel, row by row. */
class Canvas {
  readonly width: number
  readonly height: number
  /** Clamped, so noise saturates at black and white. */
  readonly pixels: Uint8ClampedArray

  constructor(width: number, height: number) {
    this.width = width
    this.height = height
    this.pixels = new Uint8ClampedArray(width * height * 3)
  }

  copy(): Canvas {
    const canvas = new Canvas(this.width, this.height)
    canvas.pixels.set(this.pixels)
    return canvas
  }

  rect(x: number, y: number, w: number, h: number, colour: Rgb): void {
    const [x0, y0] = [Math.max(0, Math.round(x)), Math.max(0, Math.round(y))]
    const [x1, y1] = [Math.min(this.width, Math.round(x + w)), Math.min(this.height, Math.round(y + h))]
    for (let row = y0; row < y1; row++) this.span(row, x0, x1, colour)
  }

  ellipse(cx: number, cy: number, rx: number, ry: number, colour: Rgb): void {
    for (let row = Math.max(0, Math.ceil(cy - ry)); row < Math.min(this.height, cy + ry); row++) {
      const half = rx * Math.sqrt(Math.max(0, 1 - ((row - cy) / ry) ** 2))
      this.span(row, Math.max(0, Math.round(cx - half)), Math.min(this.width, Math.round(cx + half)), colour)
    }
  }

  /** Pixels [x0, x1) of `row`. */
  private span(row: number, x0: number, x1: number, [r, g, b]: Rgb): void {
    const { pixels } = this
    for (let at = (row * this.width + x0) * 3, end = (row * this.width + x1) * 3; at < end; at += 3) {
      pixels[at] = r
      pixels[at + 1] = g
      pixels[at + 2] = b
    }
  }

  /** A diagonal gradient from `from` (top left) to `to` (bottom right). */
  gradient(from: Rgb, to: Rgb): void {
    const span = this.width + this.height
    const diagonal = new Uint8ClampedArray(span * 3)
    for (let d = 0; d < span; d++)
      for (let c = 0; c < 3; c++) diagonal[d * 3 + c] = from[c]! + ((to[c]! - from[c]!) * d) / span
    for (let row = 0; row < this.height; row++)
      this.pixels.set(diagonal.subarray(row * 3, (row + this.width) * 3), row * this.width * 3)
  }

  /** Adds the same random offset in [-amplitude, amplitude] to a pixel's three channels (luma noise). */
  noise(prng: Prng, amplitude: number): void {
    const { pixels } = this
    const range = 2 * amplitude + 1
    let bits = 0
    for (let at = 0, pixel = 0; at < pixels.length; at += 3, pixel++) {
      // One draw of the PRNG gives the offsets of four pixels, a byte each.
      if ((pixel & 3) === 0) bits = Math.floor(prng.next() * 2 ** 32)
      const offset = (((bits >>> ((pixel & 3) * 8)) & 0xff) % range) - amplitude
      pixels[at] = pixels[at]! + offset
      pixels[at + 1] = pixels[at + 1]! + offset
      pixels[at + 2] = pixels[at + 2]! + offset
    }
  }
}

const colour = (prng: Prng): Rgb => [prng.int(0, 255), prng.int(0, 255), prng.int(0, 255)]

/** Shapes on a gradient, with some texture: another one for every call. */
function scene(prng: Prng, width: number, height: number): Canvas {
  const canvas = new Canvas(width, height)
  canvas.gradient(colour(prng), colour(prng))
  const unit = width / 40
  for (let i = prng.int(8, 16); i > 0; i--) {
    const [x, y] = [prng.between(-2, 38) * unit, prng.between(-2, height / unit - 2) * unit]
    const [w, h] = [prng.between(2, 12) * unit, prng.between(2, 10) * unit]
    if (prng.next() < 0.5) canvas.rect(x, y, w, h, colour(prng))
    else canvas.ellipse(x + w / 2, y + h / 2, w / 2, h / 2, colour(prng))
  }
  canvas.noise(prng, 6)
  return canvas
}

/** Video black (luma 16) with noise, and the odd brighter speck of a noisy encoder. */
function blackWithNoise(prng: Prng, width: number, height: number): Canvas {
  const canvas = new Canvas(width, height)
  canvas.rect(0, 0, width, height, [16, 16, 16])
  canvas.noise(prng, 12)
  for (let i = 0; i < (width * height) / 500; i++)
    canvas.rect(prng.int(0, width - 1), prng.int(0, height - 1), 1, 1, [90, 90, 90])
  return canvas
}

/** A night shot: dark, but with lit windows and a street light; not black. */
function dimScene(prng: Prng, width: number, height: number): Canvas {
  const canvas = new Canvas(width, height)
  canvas.gradient([10, 14, 40], [30, 28, 24])
  const unit = width / 64
  for (let i = 0; i < 40; i++)
    canvas.rect(prng.int(2, 60) * unit, prng.int(2, 30) * unit, unit * 1.5, unit * 2, [220, 200, 120])
  canvas.ellipse(width * 0.8, height * 0.3, unit * 3, unit * 3, [255, 240, 200])
  canvas.noise(prng, 4)
  return canvas
}

// Seven-segment digits: which of the segments a..g (top, top right, bottom right, bottom, bottom left, top left,
// middle) each of 0-9 lights.
const SEGMENTS = ['abcdef', 'bc', 'abdeg', 'abcdg', 'bcfg', 'acdfg', 'acdefg', 'abc', 'abcdefg', 'abcdfg']

function digit(canvas: Canvas, value: number, x: number, y: number, w: number, h: number, on: Rgb): void {
  const t = Math.max(2, Math.round(w / 6))
  const half = h / 2
  const bars: Record<string, [number, number, number, number]> = {
    a: [x, y, w, t],
    b: [x + w - t, y, t, half],
    c: [x + w - t, y + half, t, half],
    d: [x, y + h - t, w, t],
    e: [x, y + half, t, half],
    f: [x, y, t, half],
    g: [x, y + half - t / 2, w, t],
  }
  for (const segment of SEGMENTS[value]!) canvas.rect(...bars[segment]!, on)
}

/** A studio clock, HH:MM:SS, in a box of about 4% of the picture at the top right. */
function clock(canvas: Canvas, seconds: number): void {
  const [boxW, boxH] = [Math.round(canvas.width * 0.24), Math.round(canvas.height * 0.16)]
  const [left, top] = [canvas.width - boxW - canvas.width / 40, canvas.height / 20]
  canvas.rect(left, top, boxW, boxH, [12, 12, 12])
  const time = [Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, seconds % 60]
  const digits = time.flatMap((part) => [Math.floor(part / 10), part % 10])
  const [w, h, gap] = [boxW / 10, boxH * 0.7, boxW / 40]
  digits.forEach((value, i) => {
    const x = left + gap * 2 + i * (w + gap) + Math.floor(i / 2) * gap * 2
    digit(canvas, value, x, top + boxH * 0.15, w, h, [255, 60, 40])
  })
}

/** A news ticker: a band of 4% of the picture's height along the bottom, its text scrolled by `offset` pixels. */
function ticker(canvas: Canvas, text: Prng, offset: number): void {
  const bandH = Math.round(canvas.height * 0.04)
  const top = canvas.height - bandH - canvas.height / 20
  canvas.rect(0, top, canvas.width, bandH, [20, 40, 120])
  const glyphH = Math.round(bandH * 0.6)
  // The same text for every frame (from its own seed), so only the scrolling changes what is seen.
  for (let x = -offset; x < canvas.width; ) {
    const w = text.int(4, 12)
    if (x + w > 0) canvas.rect(x, top + (bandH - glyphH) / 2, w, glyphH, [240, 240, 240])
    x += w + (text.next() < 0.2 ? 14 : 3)
  }
}

/** A presenter (head and shoulders) beside a still slide, who moves a little between thumbnails. */
function presenter(canvas: Canvas, prng: Prng): void {
  const unit = canvas.width / 100
  const [cx, cy] = [canvas.width - 12 * unit + prng.between(-1.5, 1.5) * unit, canvas.height - 10 * unit]
  canvas.ellipse(cx, cy + 5 * unit, 7 * unit, 5 * unit, [40, 50, 90])
  canvas.ellipse(
    cx + prng.between(-1, 1) * unit,
    cy - 4 * unit + prng.between(-0.5, 0.5) * unit,
    3 * unit,
    4 * unit,
    [225, 180, 150],
  )
}

/** A slide: white, a title bar and lines of text. */
function slide(prng: Prng, width: number, height: number): Canvas {
  const canvas = new Canvas(width, height)
  canvas.rect(0, 0, width, height, [250, 250, 250])
  const unit = width / 100
  canvas.rect(0, 0, width, 12 * unit, [30, 70, 150])
  for (let line = 0; line < 12; line++)
    for (let x = 6 * unit; x < prng.between(50, 70) * unit; x += prng.between(1.5, 4) * unit)
      canvas.rect(x, (16 + line * 3.5) * unit, prng.between(1, 3) * unit, 1.6 * unit, [40, 40, 40])
  return canvas
}

interface EncodeOptions {
  quality?: number
  /** Full colour resolution (4:4:4) instead of 4:2:0. */
  fullChroma?: boolean
  progressive?: boolean
  cmyk?: boolean
}

async function encode(canvas: Canvas, options: EncodeOptions = {}): Promise<Uint8Array> {
  const { width, height } = canvas
  let image = sharp(canvas.pixels, { raw: { width, height, channels: 3 } })
  if (options.cmyk) image = image.toColourspace('cmyk')
  const jpeg = await image
    .jpeg({ quality: options.quality ?? 80, progressive: options.progressive ?? false })
    .toBuffer()
  return new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength)
}

/** Sequences of one stream's thumbnails, by what they show. */
export interface PictureFixtures {
  /** A new scene in every thumbnail. */
  varied: Uint8Array[]
  /** The same, at 1920×1080. */
  variedFullHd: Uint8Array[]
  /** Video black with noise, new noise in every thumbnail. */
  black: Uint8Array[]
  /** A night shot, dark but not black, with new sensor noise in every thumbnail. */
  dim: Uint8Array[]
  /** One scene with a ticker's fine text, encoded at quality 95 (4:4:4), 50, 80 and 25: other bytes, same picture. */
  reencoded: Uint8Array[]
  /** A still scene with new sensor noise in every thumbnail (a camera on a still set). */
  still: Uint8Array[]
  /** The same at 1920×1080. */
  stillFullHd: Uint8Array[]
  /** A still scene whose studio clock (about 4% of the picture) moves on 30 s every thumbnail. */
  clock: Uint8Array[]
  /** A still scene whose news ticker (a band of 4% of the height) scrolls on between thumbnails. */
  ticker: Uint8Array[]
  /** A still slide with a presenter in a corner who moves a little. */
  presenter: Uint8Array[]
  /** A scene as a progressive JPEG, and as a CMYK one: both decodable. */
  progressive: Uint8Array
  cmyk: Uint8Array
  /** Input that is not a whole JPEG: the first half of one, its first 300 bytes, text, nothing. */
  broken: Record<'truncated' | 'headerOnly' | 'notJpeg' | 'empty', Uint8Array>
}

const FRAMES = 4

/** The fixtures for `seed`: the same bytes for the same seed. */
export async function pictureFixtures(seed = 23): Promise<PictureFixtures> {
  const prng = (label: string) => createPrng(deriveSeed(seed, label))
  const frames = (make: (i: number) => Canvas, options?: EncodeOptions) =>
    Promise.all(Array.from({ length: FRAMES }, (_, i) => encode(make(i), options)))
  const noisy = (base: Canvas, random: Prng, amplitude: number) => {
    const canvas = base.copy()
    canvas.noise(random, amplitude)
    return canvas
  }
  const [hd, fullHd] = [
    [1280, 720],
    [1920, 1080],
  ] as const
  const varied = prng('varied')
  const variedFullHd = prng('varied 1080')
  const blackNoise = prng('black')
  const dimBase = dimScene(prng('dim'), ...hd)
  const dimNoise = prng('dim noise')
  const reencodedBase = scene(prng('reencoded'), ...hd)
  ticker(reencodedBase, prng('reencoded text'), 0)
  const stillBase = scene(prng('still'), ...hd)
  const stillNoise = prng('still noise')
  const stillFullHdBase = scene(prng('still 1080'), ...fullHd)
  const stillFullHdNoise = prng('still 1080 noise')
  const clockBase = scene(prng('clock'), ...hd)
  const tickerBase = scene(prng('ticker'), ...hd)
  const slideBase = slide(prng('slide'), ...hd)
  const moves = prng('presenter')
  const whole = await encode(scene(prng('broken'), ...hd))
  return {
    varied: await frames(() => scene(varied, ...hd)),
    variedFullHd: await frames(() => scene(variedFullHd, ...fullHd)),
    black: await frames(() => blackWithNoise(blackNoise, ...hd)),
    dim: await frames(() => noisy(dimBase, dimNoise, 3)),
    reencoded: await Promise.all(
      [95, 50, 80, 25].map((quality) => encode(reencodedBase, { quality, fullChroma: quality === 95 })),
    ),
    still: await frames(() => noisy(stillBase, stillNoise, 3)),
    stillFullHd: await frames(() => noisy(stillFullHdBase, stillFullHdNoise, 3)),
    clock: await frames((i) => {
      const canvas = clockBase.copy()
      clock(canvas, 14 * 3600 + 7 * 60 + 30 * i)
      return canvas
    }),
    ticker: await frames((i) => {
      const canvas = tickerBase.copy()
      ticker(canvas, prng('ticker text'), 400 * i)
      return canvas
    }),
    presenter: await frames(() => {
      const canvas = slideBase.copy()
      presenter(canvas, moves)
      return canvas
    }),
    progressive: await encode(scene(prng('progressive'), ...hd), { progressive: true }),
    cmyk: await encode(scene(prng('cmyk'), ...hd), { cmyk: true }),
    broken: {
      truncated: whole.subarray(0, whole.length >> 1),
      headerOnly: whole.subarray(0, 300),
      notJpeg: new TextEncoder().encode('not a picture'),
      empty: new Uint8Array(0),
    },
  }
}
