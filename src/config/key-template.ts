/**
 * The zod type of a `key:` template, shared by every sink's config.
 * @module
 */
import { z } from 'zod'
import { keyTemplateProblems } from '../template/key.ts'

export const keyTemplate = z
  .string()
  .min(1)
  .superRefine((template, ctx) => {
    for (const problem of keyTemplateProblems(template)) ctx.addIssue({ code: 'custom', message: problem })
  })
