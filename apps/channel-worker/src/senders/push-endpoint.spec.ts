import { parsePushEndpoint } from './push-endpoint';

describe('parsePushEndpoint', () => {
  it('reads the vendor, user and device the message center wrote', () => {
    expect(parsePushEndpoint({ endpoint: 'apns:u-42/ipad-1', userId: 'u-42' })).toEqual({ provider: 'apns', userId: 'u-42', deviceId: 'ipad-1' });
  });

  it('takes the user id from the job, so ids with / and : are split correctly', () => {
    expect(parsePushEndpoint({ endpoint: 'hms:tenant:7/u/1/tab/2', userId: 'tenant:7/u/1' })).toEqual({ provider: 'hms', userId: 'tenant:7/u/1', deviceId: 'tab/2' });
  });

  it('refuses an endpoint of another user, an unknown vendor, no device, or no user', () => {
    expect(parsePushEndpoint({ endpoint: 'apns:u-1/ipad', userId: 'u-2' })).toBeNull();
    expect(parsePushEndpoint({ endpoint: 'blackberry:u-1/bb', userId: 'u-1' })).toBeNull();
    expect(parsePushEndpoint({ endpoint: 'fcm:u-1/', userId: 'u-1' })).toBeNull();
    expect(parsePushEndpoint({ endpoint: 'fcm:u-1/pixel', userId: null })).toBeNull();
  });
});
