import { acknowledgesStored } from './realtime-events';

describe('acknowledgesStored', () => {
  it.each([
    ['no reply', undefined],
    ['{ ok: true }', { ok: true }],
    ['a bare true', true],
    ['an error written as null', { ok: true, error: null }],
    ['an error written as false', { error: false }],
    ['an error written as an empty string', { error: '' }],
    ['an error written as 0', { error: 0 }],
  ])('takes %s for stored', (_, reply) => {
    expect(acknowledgesStored(reply)).toBe(true);
  });

  it.each([
    ['the contract\'s error object', { error: { code: 'storage_full', message: 'no room left' } }],
    ['an empty error object', { error: {} }],
    ['an error message', { error: 'storage full' }],
    ['an error code', { error: 507 }],
    ['an error flag', { ok: false, error: true }],
  ])('takes %s for not stored', (_, reply) => {
    expect(acknowledgesStored(reply)).toBe(false);
  });
});
