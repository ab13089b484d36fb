import { ProviderErrorCode } from './provider-error';
import { transportFailureCode } from './transport-errors';

describe('transportFailureCode', () => {
  it('takes a certificate that does not verify, or a host name that does not exist, for this installation’s configuration', () => {
    for (const code of ['CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ENOTFOUND']) {
      expect({ code, as: transportFailureCode(Object.assign(new Error('refused'), { code })) }).toEqual({ code, as: ProviderErrorCode.Misconfigured });
    }
  });

  it('takes any other failure to reach a vendor for a network failure, a lookup that may pass included', () => {
    for (const error of [Object.assign(new Error('x'), { code: 'ECONNRESET' }), Object.assign(new Error('x'), { code: 'EAI_AGAIN' }), new Error('socket hang up'), null]) {
      expect(transportFailureCode(error)).toBe(ProviderErrorCode.Network);
    }
  });
});
