import type { z } from 'zod';

/** Each problem of a failed parse as `field.path: message`, the form DLQ reasons and errors carry. */
export function schemaProblems(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}
