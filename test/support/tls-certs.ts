/**
 * A throwaway certificate authority for TLS tests, made with `openssl` at test time: a CA, a server certificate for
 * 127.0.0.1 and localhost, and a client certificate, all signed by it (EC P-256, valid one day), as PEM files in a
 * temp dir.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './files.ts'

export interface TestCertificates {
  dir: string
  caFile: string
  server: { certFile: string; keyFile: string }
  client: { certFile: string; keyFile: string }
  remove(): void
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

export function makeTestCertificates(): TestCertificates {
  const dir = tempDir('hookcast-tls-')
  const path = (name: string) => join(dir.path, name)
  const openssl = (...args: string[]) => {
    execFileSync('openssl', args, { cwd: dir.path, stdio: ['ignore', 'ignore', 'pipe'] })
  }
  openssl(
    'req',
    '-x509',
    ...EC,
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=hookcast test CA',
  )
  const signed = (name: string, usage: string, altNames: string) => {
    writeFileSync(path(`${name}.ext`), `${altNames ? `subjectAltName=${altNames}\n` : ''}extendedKeyUsage=${usage}\n`)
    openssl(
      'req',
      ...EC,
      '-keyout',
      path(`${name}.key`),
      '-out',
      path(`${name}.csr`),
      '-subj',
      `/CN=hookcast test ${name}`,
    )
    openssl(
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path('ca.pem'),
      '-CAkey',
      path('ca.key'),
      '-set_serial',
      String(Date.now()),
      '-days',
      '1',
      '-extfile',
      path(`${name}.ext`),
      '-out',
      path(`${name}.pem`),
    )
    return { certFile: path(`${name}.pem`), keyFile: path(`${name}.key`) }
  }
  return {
    dir: dir.path,
    caFile: path('ca.pem'),
    server: signed('server', 'serverAuth', 'IP:127.0.0.1,DNS:localhost'),
    client: signed('client', 'clientAuth', ''),
    remove: dir.remove,
  }
}
