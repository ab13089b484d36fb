import type { HttpAnswer } from '../../ports';
import { fcmError } from './fcm-errors';

const TOKEN = 'fcm-token-0123456789:APA91bHun4MxP5egoKMwt2KZFBaFUH';
const answer = (status: number, body: string): HttpAnswer => ({ status, headers: { get: () => null }, body });

describe('fcmError', () => {
  it('maps a plain 404 from Google’s front end (an unknown path, no FCM error) to a configuration error', () => {
    expect(fcmError(answer(404, '<html>Not Found</html>'), TOKEN, 0)).toMatchObject({ kind: 'configuration', code: 'misconfigured', status: 404, deactivateToken: false });
  });

  it('maps a plain 405 without an FCM error to a configuration error', () => {
    expect(fcmError(answer(405, ''), TOKEN, 0)).toMatchObject({ kind: 'configuration', code: 'misconfigured', status: 405 });
  });

  it('keeps mapping a 404 whose body names the token by its FCM error (UNREGISTERED) or status (NOT_FOUND)', () => {
    const unregistered = JSON.stringify({
      error: { status: 'NOT_FOUND', message: 'Requested entity was not found.', details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] },
    });
    expect(fcmError(answer(404, unregistered), TOKEN, 0)).toMatchObject({ code: 'endpoint_gone', vendorCode: 'UNREGISTERED', deactivateToken: true });
    const notFound = JSON.stringify({ error: { status: 'NOT_FOUND', message: 'Requested entity was not found.' } });
    expect(fcmError(answer(404, notFound), TOKEN, 0)).toMatchObject({ code: 'misconfigured', vendorCode: 'NOT_FOUND' });
  });

  it('still maps any other plain 4xx to a rejection', () => {
    expect(fcmError(answer(400, 'Bad Request'), TOKEN, 0)).toMatchObject({ kind: 'permanent', code: 'rejected' });
  });
});
