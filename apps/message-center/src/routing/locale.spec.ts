import { pickLocale } from './locale';

describe('pickLocale', () => {
  const available = ['en', 'zh-CN', 'pt-BR'];

  it('picks a candidate available exactly, returning the spelling of the available one', () => {
    expect(pickLocale(['zh-CN'], available, 'en')).toBe('zh-CN');
    expect(pickLocale(['ZH-cn'], available, 'en')).toBe('zh-CN');
    expect(pickLocale(['EN'], available, 'pt-BR')).toBe('en');
  });

  it('falls back to another region of the same language', () => {
    expect(pickLocale(['zh-TW'], available, 'en')).toBe('zh-CN');
    expect(pickLocale(['pt-PT'], available, 'en')).toBe('pt-BR');
    expect(pickLocale(['zh'], available, 'en')).toBe('zh-CN');
  });

  it('prefers the bare language over another region of it', () => {
    expect(pickLocale(['zh-TW'], ['en', 'zh-CN', 'zh'], 'en')).toBe('zh');
    expect(pickLocale(['en-GB'], ['en-US', 'en'], 'fr')).toBe('en');
  });

  it('gives a region that writes Traditional Chinese the Traditional template, whichever comes first', () => {
    expect(pickLocale(['zh-HK'], ['zh-CN', 'zh-TW'], 'en')).toBe('zh-TW');
    expect(pickLocale(['zh-TW'], ['zh-Hans', 'zh-Hant'], 'en')).toBe('zh-Hant');
    expect(pickLocale(['zh-MO'], ['zh', 'zh-Hant'], 'en')).toBe('zh-Hant');
    expect(pickLocale(['zh-SG'], ['zh-TW', 'zh-CN'], 'en')).toBe('zh-CN');
  });

  it('prefers a language match of an earlier candidate (the request) to an exact match of a later one (the profile)', () => {
    expect(pickLocale(['zh-TW', 'en'], ['en', 'zh-CN'], 'pt-BR')).toBe('zh-CN');
  });

  it('tries the candidates in order', () => {
    expect(pickLocale(['pt-BR', 'zh-CN'], available, 'en')).toBe('pt-BR');
    expect(pickLocale(['zh-CN', 'pt-BR'], available, 'en')).toBe('zh-CN');
    expect(pickLocale(['fr', 'pt-BR', 'zh-CN'], available, 'en')).toBe('pt-BR');
    expect(pickLocale(['fr-CA', 'zh-HK', 'pt-PT'], available, 'en')).toBe('zh-CN');
  });

  it('skips null, undefined and empty candidates', () => {
    expect(pickLocale([null, undefined, '', 'pt-BR'], available, 'en')).toBe('pt-BR');
  });

  it('returns the fallback when no candidate matches', () => {
    expect(pickLocale(['fr', 'de-AT'], available, 'en')).toBe('en');
    expect(pickLocale([], available, 'zh-CN')).toBe('zh-CN');
    expect(pickLocale([null, undefined], available, 'pt-BR')).toBe('pt-BR');
  });

  it('does not match a language by a prefix that is not the whole language', () => {
    expect(pickLocale(['e'], ['en'], 'fr')).toBe('fr');
    expect(pickLocale(['zh-Hant-TW'], ['zh-CN'], 'en')).toBe('zh-CN');
  });

  it("reads a candidate in Java's form (zh_CN) as the language tag it means", () => {
    expect(pickLocale(['zh_CN'], ['en', 'zh-CN'], 'en')).toBe('zh-CN');
    expect(pickLocale(['zh_TW'], ['en', 'zh-CN'], 'en')).toBe('zh-CN');
    expect(pickLocale(['zh_CN_#Hans'], ['en', 'zh'], 'en')).toBe('zh');
    // Android's regional preferences and a script narrow to the region's template, not the language's first.
    expect(pickLocale(['en_US_#u-mu-celsius'], ['en-GB', 'en-US'], 'en-GB')).toBe('en-US');
    expect(pickLocale(['zh_CN_#Hans_u-fw-mon'], ['zh-TW', 'zh-CN'], 'en')).toBe('zh-CN');
    expect(pickLocale(['zh-Hant-HK'], ['zh-CN', 'zh-HK'], 'en')).toBe('zh-HK');
    // A reader of Simplified in Hong Kong or Taiwan gets the Simplified template, not the region's Traditional one.
    expect(pickLocale(['zh-Hans-HK'], ['zh-HK', 'zh-CN'], 'en')).toBe('zh-CN');
    expect(pickLocale(['zh_TW_#Hans'], ['zh-TW', 'zh-CN'], 'en')).toBe('zh-CN');
    expect(pickLocale(['sr-Latn-RS'], ['sr-RS', 'sr-Latn'], 'en')).toBe('sr-Latn');
  });

  it('matches the old language codes Java and Android write to the template of their language, both ways', () => {
    expect(pickLocale(['in_ID'], ['en', 'id'], 'en')).toBe('id');
    expect(pickLocale(['iw-IL'], ['en', 'he'], 'en')).toBe('he');
    expect(pickLocale(['id-ID'], ['en', 'in'], 'en')).toBe('in');
  });

  describe('with no templates available', () => {
    it('returns the first usable candidate as it is', () => {
      expect(pickLocale([null, 'fr-CA', 'de'], [], 'en')).toBe('fr-CA');
      expect(pickLocale(['zh_CN'], [], 'en')).toBe('zh-CN');
    });

    it('returns the fallback when there is no candidate', () => {
      expect(pickLocale([null, undefined, ''], [], 'en')).toBe('en');
    });
  });
});

describe('pickLocale with Norwegian', () => {
  it('matches nb (Bokmål) and no (Norwegian) as one language when neither is available exactly', () => {
    expect(pickLocale(['nb'], ['no', 'en'], 'en')).toBe('no');
    expect(pickLocale(['no'], ['nb', 'en'], 'en')).toBe('nb');
    expect(pickLocale(['nb-NO'], ['en', 'no'], 'en')).toBe('no');
    expect(pickLocale(['no_NO'], ['en', 'nb-NO'], 'en')).toBe('nb-NO');
  });

  it('still prefers the candidate’s own code, and does not take Nynorsk for either', () => {
    expect(pickLocale(['nb'], ['no', 'nb'], 'en')).toBe('nb');
    expect(pickLocale(['nb-NO'], ['no', 'nb'], 'en')).toBe('nb');
    expect(pickLocale(['no-NO'], ['nb', 'no'], 'en')).toBe('no');
    expect(pickLocale(['nn'], ['no', 'nb'], 'en')).toBe('en');
    expect(pickLocale(['nb'], ['nn'], 'en')).toBe('en');
  });
});
