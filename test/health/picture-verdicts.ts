/**
 * Run by picture.test.ts under Bun and Deno: analyses the thumbnails in the files named, in order, and prints one
 * JSON line with each one's black verdict and whether each is unchanged from the one before, proving that
 * src/health/picture.ts and sharp run there (Deno with start:deno's permissions).
 *
 *   bun test/health/picture-verdicts.ts A.jpg B.jpg [...]
 */
import { readFileSync } from 'node:fs'
import {
  createPictureAnalyser,
  isBlack,
  isUnchanged,
  pictureChange,
  type PictureSample,
} from '../../src/health/picture.ts'
import { createLogger } from '../../src/log.ts'

const analyse = createPictureAnalyser({ logger: createLogger('warn') })
const samples: PictureSample[] = []
for (const file of process.argv.slice(2)) {
  const result = await analyse(readFileSync(file))
  if (!('grid' in result)) throw new Error(`${file} not analysed: ${JSON.stringify(result)}`)
  samples.push(result)
}
const changes = samples.slice(1).map((sample, i) => pictureChange(samples[i]!.grid, sample.grid))
console.log(
  JSON.stringify({
    black: samples.map((sample) => isBlack(sample)),
    unchanged: changes.map((change) => isUnchanged(change)),
  }),
)
