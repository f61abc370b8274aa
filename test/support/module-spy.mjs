// Preloaded into a Node gateway (NODE_OPTIONS=--import=...): appends the URL of every module loaded through the ES
// module loader to the file MODULE_SPY_FILE names, so a test can tell which packages a run loaded.
import { register } from 'node:module'

register('./module-spy-hooks.mjs', import.meta.url, { data: { file: process.env.MODULE_SPY_FILE } })
