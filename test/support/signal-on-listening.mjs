// Preloaded into a gateway by test/e2e/early-signal.test.ts: the process sends itself SIGTERM from inside the
// console.log call that prints its "listening" line, so the signal arrives while the entry is still running the
// code that printed it. A kill to one's own pid is delivered before kill() returns: with no handler yet, the
// process dies of it at once.
const print = console.log
console.log = (...args) => {
  print(...args)
  if (args.some((arg) => String(arg).includes('"msg":"listening"'))) {
    console.log = print
    // Deno's process.kill is its node:process stand-in: Deno.kill is the system call itself.
    if (globalThis.Deno) globalThis.Deno.kill(globalThis.Deno.pid, 'SIGTERM')
    else process.kill(process.pid, 'SIGTERM')
  }
}
