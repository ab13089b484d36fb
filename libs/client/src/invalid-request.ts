import { schemaProblems } from '@notify/contracts';
import type { z } from 'zod';

/** A request the platform would reject; thrown before anything is produced. */
export class InvalidNotificationRequest extends Error {
  readonly code = 'invalid_request';

  constructor(readonly problems: string[]) {
    super(`invalid notification request: ${problems.join('; ')}`);
    this.name = 'InvalidNotificationRequest';
  }

  static fromZod(error: z.ZodError): InvalidNotificationRequest {
    return new InvalidNotificationRequest(schemaProblems(error));
  }
}
