import { uuidV5 } from '../../src/domain/uuid';

describe('uuidV5', () => {
  it('matches the RFC 9562 / Python uuid5 vector for the DNS namespace', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('gives the same case id for the same message and another for another', () => {
    expect(uuidV5('rapidpro:referral:run:a:b')).toBe(uuidV5('rapidpro:referral:run:a:b'));
    expect(uuidV5('rapidpro:referral:run:a:b')).not.toBe(uuidV5('rapidpro:referral:run:a:c'));
  });
});
