/**
 * template.yaml (AWS SAM), checked for what the README and the code rely on: the resources and outputs a user is
 * told about, handlers that name the bundle's exports, the environment the function reads, a public function URL
 * with both permissions, the schedule, and IAM scoped to the one bucket. cfn-lint (with the SAM transform) runs
 * too where it is installed. What only AWS can check (the deploy itself, the URL answering) is not checked here.
 */
import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { parse, type ScalarTag } from 'yaml'
import { parseConfig } from '../../src/config/load.ts'
import { SERVERLESS_DEFAULT_CONFIG } from '../../src/serverless/default-config.ts'
import * as adapter from '../../adapters/lambda.ts'
import { SECRET } from '../support/hooks.ts'
import { skipWhen } from '../support/skip.ts'

const path = fileURLToPath(new URL('../../template.yaml', import.meta.url))
const text = readFileSync(path, 'utf8')

// CloudFormation's short forms, as plain objects.
const tag = (name: string, key: string): ScalarTag => ({
  tag: `!${name}`,
  resolve: (value: string) => ({ [key]: value }) as never,
})
const template = parse(text, {
  customTags: [tag('Ref', 'Ref'), tag('Sub', 'Fn::Sub'), tag('GetAtt', 'Fn::GetAtt')],
}) as {
  Transform: string
  Parameters: Record<string, { Type: string; NoEcho?: boolean; Default?: unknown }>
  Globals: { Function: { Runtime: string; CodeUri: string; Environment: { Variables: Record<string, unknown> } } }
  Resources: Record<string, { Type: string; Properties: Record<string, any>; DeletionPolicy?: string }>
  Outputs: Record<string, { Value: unknown }>
}
const resources = template.Resources
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type)
const run = promisify(execFile)
const noCfnLint = await run('cfn-lint', ['--version']).then(
  () => undefined,
  () => 'cfn-lint is not installed (Python; Debian has no package: .ci/run installs it with pip where PyPI answers)',
)

/** References to the bucket, in the forms a statement may use. */
const BUCKET_ARN = { 'Fn::GetAtt': 'Bucket.Arn' }
const BUCKET_OBJECTS = { 'Fn::Sub': '${Bucket.Arn}/*' }

describe('template.yaml', () => {
  it('is a SAM template with the resources the README names', () => {
    expect(template.Transform).toBe('AWS::Serverless-2016-10-31')
    expect(resources.Bucket?.Type).toBe('AWS::S3::Bucket')
    expect(resources.Bucket?.DeletionPolicy).toBe('Retain') // the hooks outlive the stack
    expect(resources.HookFunction?.Type).toBe('AWS::Serverless::Function')
    expect(resources.HookFunctionUrl?.Type).toBe('AWS::Lambda::Url')
    expect(resources.ScheduledFunction?.Type).toBe('AWS::Serverless::Function')
    expect(Object.keys(template.Outputs).sort()).toEqual([
      'BucketName',
      'FunctionUrl',
      'HookFunctionName',
      'ScheduledFunctionName',
      'WebhookUrl',
    ])
    expect(template.Parameters.WebhookSecret).toMatchObject({ Type: 'String', NoEcho: true })
    expect(template.Parameters.AdminToken).toMatchObject({ NoEcho: true, Default: '' })
    expect(template.Parameters.Config).toMatchObject({ Default: '' })
  })

  it("points the handlers at the bundle's exports", () => {
    // npm run build:lambda writes dist/lambda/index.mjs from adapters/lambda.ts.
    expect(template.Globals.Function.CodeUri).toBe('dist/lambda/')
    expect(template.Globals.Function.Runtime).toMatch(/^nodejs(2[02468])\.x$/)
    expect(resources.HookFunction!.Properties.Handler).toBe('index.handler')
    expect(resources.ScheduledFunction!.Properties.Handler).toBe('index.scheduled')
    expect(typeof adapter.handler).toBe('function')
    expect(typeof adapter.scheduled).toBe('function')
    expect(
      JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')).scripts[
        'build:lambda'
      ],
    ).toBe('node --import tsx bin/build-lambda.ts')
  })

  it('sets the environment the function reads, from the parameters and the bucket', () => {
    expect(template.Globals.Function.Environment.Variables).toEqual({
      MILLICAST_WEBHOOK_SECRET: { Ref: 'WebhookSecret' },
      HOOKCAST_BUCKET: { Ref: 'Bucket' },
      HOOKCAST_CONFIG_YAML: { Ref: 'Config' },
      HOOKCAST_CONFIG: { Ref: 'ConfigFile' },
      HOOKCAST_ADMIN_TOKEN: { Ref: 'AdminToken' },
      HOOKCAST_DELIVER_WITHIN: { Ref: 'DeliverWithin' },
      HOOKCAST_LOG_LEVEL: { Ref: 'LogLevel' },
    })
  })

  it('gives the hook function a public URL with both permissions it needs, and the webhook URL its source path', () => {
    expect(resources.HookFunctionUrl!.Properties).toMatchObject({
      TargetFunctionArn: { 'Fn::GetAtt': 'HookFunction.Arn' },
      AuthType: 'NONE',
    })
    const permissions = ofType('AWS::Lambda::Permission').map(([, r]) => r.Properties)
    expect(permissions).toContainEqual({
      FunctionName: { Ref: 'HookFunction' },
      Action: 'lambda:InvokeFunctionUrl',
      Principal: '*',
      FunctionUrlAuthType: 'NONE',
    })
    expect(permissions).toContainEqual({
      FunctionName: { Ref: 'HookFunction' },
      Action: 'lambda:InvokeFunction',
      Principal: '*',
      InvokedViaFunctionUrl: true,
    })
    expect(permissions.every((p) => p.FunctionName.Ref === 'HookFunction')).toBe(true) // the scheduled one is not public
    expect(template.Outputs.WebhookUrl!.Value).toEqual({ 'Fn::Sub': '${HookFunctionUrl.FunctionUrl}hooks/millicast' })
  })

  it('runs the scheduled function on a schedule', () => {
    const events = resources.ScheduledFunction!.Properties.Events as Record<
      string,
      { Type: string; Properties: { Schedule: unknown } }
    >
    expect(Object.values(events)).toEqual([
      expect.objectContaining({
        Type: 'Schedule',
        Properties: expect.objectContaining({ Schedule: { Ref: 'Schedule' } }),
      }),
    ])
    expect(template.Parameters.Schedule?.Default).toBe('rate(1 minute)')
    expect(resources.HookFunction!.Properties.Events).toBeUndefined()
  })

  it('lets the functions touch the objects of their bucket and nothing else', () => {
    const allowed = new Set(['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket'])
    const policies = ofType('AWS::IAM::ManagedPolicy')
    expect(policies.map(([name]) => name)).toEqual(['BucketAccess'])
    for (const statement of policies[0]![1].Properties.PolicyDocument.Statement as {
      Effect: string
      Action: string | string[]
      Resource: unknown
    }[]) {
      expect(statement.Effect).toBe('Allow')
      const actions = [statement.Action].flat()
      for (const action of actions) expect(allowed.has(action), action).toBe(true)
      // Objects on the bucket's keys, listing on the bucket itself.
      expect(statement.Resource).toEqual(actions.includes('s3:ListBucket') ? BUCKET_ARN : BUCKET_OBJECTS)
    }
    for (const name of ['HookFunction', 'ScheduledFunction']) {
      expect(resources[name]!.Properties.Policies, name).toEqual([{ Ref: 'BucketAccess' }])
      expect(resources[name]!.Properties.Role, name).toBeUndefined()
    }
    expect(ofType('AWS::IAM::Role')).toEqual([])
    expect(ofType('AWS::IAM::Policy')).toEqual([])
    // No statement anywhere allows everything.
    expect(text).not.toMatch(/Action:\s*['"]?\*['"]?\s*$/m)
  })

  it('keeps the bucket private and TLS-only', () => {
    const bucket = resources.Bucket!.Properties
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    })
    const statement = resources.BucketPolicy!.Properties.PolicyDocument.Statement[0]
    expect(statement).toMatchObject({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })
  })

  it('has a default config that takes the secret and the bucket from the environment the template sets', () => {
    const env = { MILLICAST_WEBHOOK_SECRET: SECRET, HOOKCAST_BUCKET: 'hookcast-bucket-123', AWS_REGION: 'eu-west-1' }
    let spoolOnS3 = true
    try {
      parseConfig(
        'sources: { m: { path: /h, secrets: ["' +
          SECRET +
          '"] } }\nspool: { type: s3, bucket: hookcast-b, region: eu-west-1 }',
        env,
      )
    } catch {
      spoolOnS3 = false
    }
    if (spoolOnS3) {
      const config = parseConfig(SERVERLESS_DEFAULT_CONFIG, env)
      expect(config.sources.millicast!.path).toBe('/hooks/millicast')
      expect(config.sinks.bucket).toMatchObject({ type: 's3', bucket: 'hookcast-bucket-123', region: 'eu-west-1' })
    } else {
      // Until `spool: { type: s3 }` is part of the config schema, that entry is the one problem of the default.
      expect(() => parseConfig(SERVERLESS_DEFAULT_CONFIG, env)).toThrow(/invalid config[^\n]*:\n {2}- spool[^\n]*\n?$/)
    }
  })

  it('passes cfn-lint with the SAM transform', { ...skipWhen(noCfnLint), timeout: 60_000 }, async () => {
    const result = await run('cfn-lint', [path]).then(
      () => ({ ok: true, out: '' }),
      (error: { stdout?: string }) => ({ ok: false, out: error.stdout ?? String(error) }),
    )
    expect(result.out).toBe('')
    expect(result.ok).toBe(true)
  })
})
