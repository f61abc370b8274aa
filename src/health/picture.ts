/**
 * Picture health from a stream's thumbnails: is the picture black, has it stopped changing. sharp (libvips) decodes
 * the JPEG straight to a 64×36 grid of luma: libjpeg's shrink-on-load decodes only each 8×8 block's mean, so a
 * 1280×720 thumbnail costs about 3 ms of CPU (bench/picture.ts). sharp is native and loaded on first use: a gateway
 * that never analyses never loads it, and one where it cannot load says so once and reports `unavailable`.
 *
 * Black: at least `darkFraction` (0.95) of the grid's cells at or below luma 32 (video black is 16). A cell is the
 * mean of 20×20 pixels of a 1280×720 picture, so noise on black averages out (a caption of 1% of the picture leaves
 * 0.977 of the cells dark: still black).
 * Frozen: `pictureChange` is the largest difference of one cell's luma between two thumbnails; unchanged when it is
 * at most `tolerance` (10). Measured: the same picture re-encoded (quality 25 to 95, 4:2:0 or 4:4:4) moves a cell by
 * at most 5, sensor noise by 1; a studio clock (4% of the picture) moves one by 23 or more, a ticker 78, a presenter
 * beside a still slide 46. A coarser grid fits a record better but dilutes the clock (9 at 32×18, too near 5).
 */
import type { Logger } from '../log.ts'
import { decodeBase64, toBase64 } from '../util/encoding.ts'
import { errorText } from '../util/error-text.ts'

/** Every picture is measured on this grid whatever its size or shape (a 4:3 or portrait picture is stretched). */
const GRID_WIDTH = 64
const GRID_HEIGHT = 36
const CELLS = GRID_WIDTH * GRID_HEIGHT

/** Luma (0-255) at or below which a cell is dark: video black is 16; noise and compression lift it a little. */
const DARK_LEVEL = 32

/** Refused before decoding: 8K. The header says the size; a thumbnail keeps the source's, 4K at most. */
const MAX_INPUT_PIXELS = 7680 * 4320

const PICTURE_THRESHOLDS = {
  /** The share of dark cells from which a picture is black (the Volicon convention, on the grid). */
  darkFraction: 0.95,
  /** The largest cell change (0-255) that still counts as the same picture. */
  tolerance: 10,
}

export interface PictureSample {
  /** The grid's mean luma, 0-255. */
  meanLuma: number
  /** The share of the grid's cells at or below luma 32, 0-1. */
  darkFraction: number
  /** GRID_WIDTH × GRID_HEIGHT luma values, row by row, to compare the next thumbnail with (`gridText` stores it). */
  grid: Uint8Array
}

export type PictureAnalysis =
  | PictureSample
  /** Not a JPEG sharp can decode whole (truncated, corrupt): count it and log it once for the stream. */
  | { undecodable: string }
  /** sharp did not load (no binary for this platform): picture health is off; logged once by the analyser. */
  | { unavailable: string }
  /** `maxInFlight` analyses were already running: this thumbnail was not looked at. */
  | { skipped: 'busy' }

type Sharp = typeof import('sharp').default

export interface PictureAnalyserOptions {
  logger: Logger
  /**
   * Analyses at once; more thumbnails meanwhile are skipped rather than queued. Default 2: sharp works on libuv's
   * pool (4 threads), which the spool's and the fs sink's file I/O needs too.
   */
  maxInFlight?: number
  /** How sharp is loaded; tests replace it. */
  load?: () => Promise<Sharp>
}

/** A function that measures one thumbnail (never throws; see PictureAnalysis for what else it can answer). */
export function createPictureAnalyser(options: PictureAnalyserOptions): (jpeg: Uint8Array) => Promise<PictureAnalysis> {
  const { logger, maxInFlight = 2, load = importSharp } = options
  let loading: Promise<Sharp | { unavailable: string }> | undefined
  let inFlight = 0
  return async (jpeg) => {
    if (inFlight >= maxInFlight) return { skipped: 'busy' }
    inFlight++
    try {
      loading ??= loadSharp(load, logger)
      const sharp = await loading
      return 'unavailable' in sharp ? sharp : await measure(sharp, jpeg)
    } finally {
      inFlight--
    }
  }
}

async function importSharp(): Promise<Sharp> {
  return (await import('sharp')).default
}

async function loadSharp(load: () => Promise<Sharp>, logger: Logger): Promise<Sharp | { unavailable: string }> {
  try {
    const sharp = await load()
    // libvips' operation cache would keep recent pictures for reuse; every thumbnail is new.
    sharp.cache(false)
    // One libvips thread per picture (sharp's default on glibc Linux only): a 64×36 output has nothing to share out.
    sharp.concurrency(1)
    return sharp
  } catch (error) {
    const reason = `sharp did not load: ${errorText(error)}`
    logger.warn('picture health is off', { reason })
    return { unavailable: reason }
  }
}

async function measure(sharp: Sharp, jpeg: Uint8Array): Promise<PictureSample | { undecodable: string }> {
  // The hook parser already wants a JPEG; checked again so sharp's other decoders never see thumbnail bytes.
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8 || jpeg[2] !== 0xff) return { undecodable: 'not a JPEG' }
  let grid: Uint8Array
  try {
    // failOn 'error': a truncated or corrupt picture is refused, not measured with grey where its data is missing.
    const raw = await sharp(jpeg, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS })
      .resize(GRID_WIDTH, GRID_HEIGHT, { fit: 'fill', fastShrinkOnLoad: true })
      .greyscale()
      .raw()
      .toBuffer()
    grid = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
  } catch (error) {
    // libvips repeats its messages on further lines.
    return { undecodable: errorText(error).split('\n')[0]! }
  }
  if (grid.length !== CELLS) return { undecodable: `decoded to ${grid.length} values, not ${CELLS}` }
  let sum = 0
  let dark = 0
  for (const luma of grid) {
    sum += luma
    if (luma <= DARK_LEVEL) dark++
  }
  return { meanLuma: sum / CELLS, darkFraction: dark / CELLS, grid }
}

/**
 * How much the picture changed between two samples' grids: the largest difference of one cell's luma, 0-255. No blur
 * beyond the decoder's averaging, which is what makes re-encoding vanish; a grid of another size counts as 255.
 */
export function pictureChange(previous: Uint8Array, current: Uint8Array): number {
  if (previous.length !== current.length) return 255
  let largest = 0
  for (let i = 0; i < current.length; i++) largest = Math.max(largest, Math.abs(current[i]! - previous[i]!))
  return largest
}

export function isBlack(
  sample: Pick<PictureSample, 'darkFraction'>,
  thresholds: { darkFraction?: number } = {},
): boolean {
  return sample.darkFraction >= (thresholds.darkFraction ?? PICTURE_THRESHOLDS.darkFraction)
}

export function isUnchanged(change: number, thresholds: { tolerance?: number } = {}): boolean {
  return change <= (thresholds.tolerance ?? PICTURE_THRESHOLDS.tolerance)
}

/** A grid as stored in a stream record: base64, 3,072 characters. */
export function gridText(grid: Uint8Array): string {
  return toBase64(grid)
}

/** A grid read back from a stream record; undefined when the text is not one. */
export function gridFromText(text: string): Uint8Array | undefined {
  const grid = decodeBase64(text)
  return grid?.length === CELLS ? grid : undefined
}
