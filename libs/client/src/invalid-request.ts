/** A request the platform would reject; thrown before anything is produced. */
export class InvalidNotificationRequest extends Error {
  readonly code = 'invalid_request';

  constructor(readonly problems: string[]) {
    super(`invalid notification request: ${problems.join('; ')}`);
    this.name = 'InvalidNotificationRequest';
  }
}
